"""gunicorn's settings (the Procfile's web line: `gunicorn -c config/gunicorn.py config.wsgi`),
from the same environment as Django's (README, "Running in production")."""

import os

bind = f"{os.environ.get('BIND', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))  # per machine: about 2 × cores
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))  # seconds; uploads are parsed by the worker, not here
accesslog = "-"
# X-Forwarded-Proto is believed only behind a TLS proxy (BEHIND_TLS_PROXY, as Django's
# SECURE_PROXY_SSL_HEADER) and then only from the proxy's addresses; otherwise from nobody, so
# a client cannot pass for https.
behind_tls_proxy = os.environ.get("BEHIND_TLS_PROXY", "").lower() in ("1", "true", "yes", "on")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1") if behind_tls_proxy else ""
