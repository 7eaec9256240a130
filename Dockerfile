# syntax=docker/dockerfile:1
# helpline: multi-stage, slim, non-root.

FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /venv
ENV PATH=/venv/bin:$PATH PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --upgrade pip && pip install .
COPY locales ./locales
RUN pybabel compile --use-fuzzy -d locales -D bot 2>/dev/null || true; \
    pybabel compile -d locales -D console 2>/dev/null || true

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 helpline
COPY --from=build /venv /venv
WORKDIR /app
COPY --chown=helpline knowledge ./knowledge
COPY --chown=helpline flows ./flows
COPY --from=build --chown=helpline /src/locales ./locales
RUN mkdir -p /app/var && chown helpline /app/var
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HELPLINE_HOME=/app \
    HELPLINE_ENV=production
USER helpline
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
# Migrations take a database lock, so several instances may start together.
CMD ["sh", "-c", "helpline db upgrade && exec helpline serve --host 0.0.0.0 --port 8000"]
