"""Publishing channels, one module each, behind the Protocol in channels.base."""
