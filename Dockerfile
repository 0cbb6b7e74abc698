# The command center image: the `icc` console script with its dependencies.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ICC_DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ingest ingest
COPY geo geo
COPY graph graph
COPY tasking tasking
COPY dashboard dashboard
COPY icc icc
COPY bench bench
RUN pip install --no-cache-dir .
VOLUME ["/data"]
EXPOSE 8050
ENTRYPOINT ["icc"]
CMD ["--help"]
