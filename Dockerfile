# Rowboat in a container: gunicorn serving wsgi:app on port 8000.
FROM python:3.11-slim
WORKDIR /srv/rowboat
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app app
COPY templates templates
COPY static static
COPY wsgi.py pyproject.toml ./
# Rowboat itself, importable as ``rowboat`` (its code stays in app/: see pyproject.toml).
RUN pip install --no-cache-dir --no-deps -e .
# Only requests whose Host is localhost, 127.0.0.1 or [::1] are answered unless
# ROWBOAT_TRUSTED_HOSTS names the hosts the container is reached by (docker run -e
# ROWBOAT_TRUSTED_HOSTS=dash.example.com ...): a guard against DNS rebinding.
# Sign-in is required (ROWBOAT_AUTH=on): the first start creates the user admin and prints its
# password once in the container's log (docker logs), unless ROWBOAT_ADMIN_PASSWORD is given.
# Users, grants and the session key live in the state database: mount /srv/rowboat/instance
# as a volume, or point ROWBOAT_STATE_URL at PostgreSQL/MariaDB. Behind a TLS proxy, set
# ROWBOAT_PROXIES=1 so the session cookie is marked Secure.
ENV ROWBOAT_DEMO_PATH=/srv/rowboat/instance/demo.sqlite \
    ROWBOAT_AUTH=on \
    PYTHONUNBUFFERED=1
RUN useradd --create-home rowboat && mkdir -p instance && chown rowboat instance
USER rowboat
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "wsgi:app"]
