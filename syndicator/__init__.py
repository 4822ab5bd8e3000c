"""syndicator: official portal articles to a Facebook Page and a Zalo OA, approved in Telegram."""

__version__ = "0.2.0"
