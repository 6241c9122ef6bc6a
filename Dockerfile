# One image for every entrypoint: the operator, the trainer Jobs and the model servers.
#   docker build -t modelops:dev .
#   operator: python -m modelops.operator
#   trainer:  python -m modelops.trainer prepare|train ...
#   serving:  python -m modelops.serving --model-uri ...
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/modelops
COPY pyproject.toml README.md ./
COPY modelops ./modelops
RUN /opt/modelops/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/modelops/bin/pip install --no-cache-dir .

FROM python:3.11-slim
# libgomp: OpenMP runtime that scikit-learn and ONNX Runtime need at run time; no compilers here.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 modelops \
 && useradd --system --uid 10001 --gid modelops --home-dir /home/modelops --create-home modelops
COPY --from=build /opt/modelops /opt/modelops
ENV PATH=/opt/modelops/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib
USER 10001:10001
WORKDIR /home/modelops
EXPOSE 8080
ENTRYPOINT ["python", "-m"]
CMD ["modelops.operator"]
