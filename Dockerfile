# The command center image: the `icc` console script with its dependencies.
#   docker build -t icc:latest .
#   docker run --rm -e ICC_DATA_DIR=/data -v icc-data:/data icc:latest config check
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ICC_DATA_DIR=/data \
    ICC_CACHE_DIR=/var/cache/icc \
    NUMBA_CACHE_DIR=/var/cache/icc/numba \
    ICC_LOG_FORMAT=json

WORKDIR /app
COPY pyproject.toml README.md ./
COPY ingest ingest
COPY geo geo
COPY graph graph
COPY tasking tasking
COPY dashboard dashboard
COPY icc icc
COPY bench bench
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /app icc \
    && mkdir -p /data /var/cache/icc/numba \
    && chown -R icc /data /var/cache/icc

USER icc
# Warm the geographic caches (county polygons, simplified outlines) into the image.
RUN python -c "from geo.layers import county_outlines; county_outlines()"

VOLUME ["/data"]
EXPOSE 8050
HEALTHCHECK --interval=30s --timeout=10s --retries=3 CMD ["icc", "config", "check"]
ENTRYPOINT ["icc"]
CMD ["--help"]
