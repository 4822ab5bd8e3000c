"""From stored articles to live posts: planning (route + render + initial decision), pacing,
and the publisher that claims, sends, reconciles and records."""
