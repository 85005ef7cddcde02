# Rowboat in a container: gunicorn serving wsgi:app on port 8000.
FROM python:3.11-slim
WORKDIR /srv/rowboat
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app app
COPY templates templates
COPY static static
COPY wsgi.py .
# Only requests whose Host is localhost, 127.0.0.1 or [::1] are answered unless
# ROWBOAT_TRUSTED_HOSTS names the hosts the container is reached by (docker run -e
# ROWBOAT_TRUSTED_HOSTS=dash.example.com ...): a guard against DNS rebinding.
ENV ROWBOAT_DEMO_PATH=/srv/rowboat/instance/demo.sqlite \
    PYTHONUNBUFFERED=1
RUN useradd --create-home rowboat && mkdir -p instance && chown rowboat instance
USER rowboat
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "wsgi:app"]
