#!/usr/bin/env bash
# `make up` where Docker and kind exist: a kind cluster, the image built by Docker from the
# Dockerfile, the chart installed with a PersistentVolumeClaim store (kind's default
# StorageClass provisions it), the quick start applied; waits until the model is served and
# prints how to call it. `make down` runs hack/kind-down.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
CLUSTER=modelops
IMAGE=modelops:dev
# one node: the store is a ReadWriteOnce volume that the Jobs and the serving pods share
kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER"
docker build -t "$IMAGE" .
kind load docker-image "$IMAGE" --name "$CLUSTER"
kubectl create namespace modelops-system --dry-run=client -o yaml | kubectl apply -f -
cat <<PVC | kubectl apply -f -
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: modelops-store, namespace: default}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 2Gi}}}
PVC
helm upgrade --install modelops charts/modelops -n modelops-system \
  --set image.repository=modelops --set image.tag=dev --set image.pullPolicy=Never \
  --set artifactStore.uri=pvc:///var/lib/modelops --set artifactStore.pvcClaimName=modelops-store --wait
kubectl apply -n default -f examples/quickstart/
kubectl wait -n default --for=jsonpath='{.status.phase}'=Ready md/breast-cancer --timeout=30m
kubectl get modelops -A
echo "kubeconfig: ${KUBECONFIG:-$HOME/.kube/config} (context kind-$CLUSTER)"
echo "call the model:"
echo "kubectl -n default port-forward svc/breast-cancer 18080:80 >/dev/null & sleep 3; curl -sS -H 'Content-Type: application/json' --data '{\"instances\": [[17.99,10.38,122.8,1001.0,0.1184,0.2776,0.3001,0.1471,0.2419,0.07871,1.095,0.9053,8.589,153.4,0.006399,0.04904,0.05373,0.01587,0.03003,0.006193,25.38,17.33,184.6,2019.0,0.1622,0.6656,0.7119,0.2654,0.4601,0.1189]]}' http://127.0.0.1:18080/predict; kill \$!"
