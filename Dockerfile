# syndicator in a container. Build:  docker build -t syndicator .
# Run (config and secrets from the host, state in a volume):
#   docker run -d --name syndicator --restart unless-stopped \
#     -v /etc/syndicator/syndicator.toml:/etc/syndicator/syndicator.toml:ro \
#     --env-file /etc/syndicator/syndicator.env \
#     -v syndicator-data:/var/lib/syndicator -p 127.0.0.1:9464:9464 syndicator
# In the TOML: [database] url = "sqlite:////var/lib/syndicator/syndicator.db" and
# [server] listen = "0.0.0.0:9464" (the HEALTHCHECK below needs the listener on).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SYNDICATOR_CONFIG=/etc/syndicator/syndicator.toml

# A fixed uid/gid so a bind-mounted state directory can be chowned to match on the host.
RUN groupadd --system --gid 10001 syndicator \
 && useradd --system --uid 10001 --gid syndicator --home-dir /var/lib/syndicator \
      --shell /usr/sbin/nologin syndicator \
 && mkdir -p /var/lib/syndicator /etc/syndicator \
 && chown syndicator:syndicator /var/lib/syndicator

WORKDIR /src
# Only what the package needs (.dockerignore keeps tests, databases and secrets out).
COPY pyproject.toml README.md daemon.py ./
COPY syndicator ./syndicator
COPY channels ./channels
RUN pip install . && rm -rf /src
# The commented example config, for reference next to where the real one is mounted.
COPY config/syndicator.example.toml /etc/syndicator/syndicator.example.toml

USER syndicator
WORKDIR /var/lib/syndicator
VOLUME ["/var/lib/syndicator"]
EXPOSE 9464

# 503 (database down, polling stale, a channel needs a new token) makes urlopen raise: unhealthy.
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=8).status == 200 else 1)"]

# docker stop sends SIGTERM; the daemon stops within its 20 s budget (docker's default is 10 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["syndicator"]
CMD ["run"]
