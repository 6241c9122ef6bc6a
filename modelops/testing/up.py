"""`make up` / `make down`: the whole system on this machine, for a person to look at and use.

``python -m modelops.testing.up up`` builds or reuses everything (control plane, node
binaries, images), starts the local cluster in a background process that holds it, installs
the chart, applies the quick start, waits until the model is served, then prints
``kubectl get modelops``, the kubeconfig path and a ready-to-paste command that calls the
model through ``kubectl port-forward`` (the API server and the kubelet carry it: no route to a
cluster address is needed, and none exists). ``down`` stops that process, which undoes every
host change, sweeps whatever a crash could have left, and fails if anything is still there.

Where Docker and kind work, ``up``/``down`` run ``hack/kind-up.sh``/``hack/kind-down.sh``
instead (a kind cluster and a Docker-built image).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from modelops.testing.localcluster import LocalCluster, sweep
from modelops.testing.netns import NodeNetwork
from modelops.testing.system import OPERATOR_NAMESPACE, apply_quickstart, install_operator, wait_until_served

RUN_DIR = Path("/run/modelops-up")
REPO_ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "default"
MODEL = "breast-cancer"
# two rows of scikit-learn's breast_cancer data (its first malignant and first benign sample)
REQUEST = {
    "instances": [
        [17.99, 10.38, 122.8, 1001.0, 0.1184, 0.2776, 0.3001, 0.1471, 0.2419, 0.07871, 1.095, 0.9053, 8.589, 153.4,
         0.006399, 0.04904, 0.05373, 0.01587, 0.03003, 0.006193, 25.38, 17.33, 184.6, 2019.0, 0.1622, 0.6656,
         0.7119, 0.2654, 0.4601, 0.1189],
        [13.54, 14.36, 87.46, 566.3, 0.09779, 0.08129, 0.06664, 0.04781, 0.1885, 0.05766, 0.2699, 0.7886, 2.058,
         23.56, 0.008462, 0.0146, 0.02387, 0.01315, 0.0198, 0.0023, 15.11, 19.26, 99.7, 711.2, 0.144, 0.1773,
         0.239, 0.1288, 0.2977, 0.07259],
    ]
}  # fmt: skip


def kind_available() -> bool:
    if not (shutil.which("kind") and shutil.which("docker")):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def predict_command(kubectl: Path, kubeconfig: Path, service: str, port: int) -> str:
    """One line that forwards a local port to the model's Service, POSTs the request and stops forwarding."""
    forward = shlex.join(
        [str(kubectl), f"--kubeconfig={kubeconfig}", "-n", NAMESPACE, "port-forward", f"svc/{service}", f"{port}:80"]
    )
    curl = shlex.join(
        ["curl", "-sS", "-H", "Content-Type: application/json", "--data", f"@{RUN_DIR / 'request.json'}",
         f"http://127.0.0.1:{port}/predict"]
    )  # fmt: skip
    return f"{forward} >/dev/null & sleep 3; {curl}; kill $!"


def serve() -> None:
    """The background process: start the cluster and the system, report, then hold it until SIGTERM."""
    cluster = LocalCluster()
    cluster.start()  # from here SIGTERM stops the cluster (and then this process)
    cp = cluster.control_plane
    install_operator(cluster)
    apply_quickstart(cluster, NAMESPACE)
    status = wait_until_served(cluster, NAMESPACE, MODEL)
    service = status["endpoint"].split("//", 1)[1].split(".", 1)[0]
    (RUN_DIR / "request.json").write_text(json.dumps(REQUEST))
    ready = {
        "kubeconfig": str(cp.kubeconfig),
        "kubectl": str(cp.bin_dir / "kubectl"),
        "command": predict_command(cp.bin_dir / "kubectl", cp.kubeconfig, service, 18080),
        "control_plane_dir": str(cp.dir),
        "timings": cluster.timings,
    }
    (RUN_DIR / "ready.json").write_text(json.dumps(ready))
    while True:
        signal.pause()


def up(timeout: float) -> int:
    if kind_available():
        return subprocess.run(["bash", str(REPO_ROOT / "hack" / "kind-up.sh")], check=False).returncode
    if os.geteuid() != 0:
        print("make up: a local node needs root (network namespace, cgroups, containerd)", file=sys.stderr)
        return 1
    if (RUN_DIR / "pid").exists():
        print(f"make up: already up (pid {(RUN_DIR / 'pid').read_text()}); `make down` first", file=sys.stderr)
        return 1
    started = time.monotonic()
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    log_path = RUN_DIR / "up.log"
    with log_path.open("wb") as log:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "modelops.testing.up", "serve"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO_ROOT,
        )  # fmt: skip
    (RUN_DIR / "pid").write_text(str(daemon.pid))
    shown = 0
    while not (RUN_DIR / "ready.json").exists():
        text = log_path.read_text(errors="replace")
        sys.stdout.write(text[shown:])
        sys.stdout.flush()
        shown = len(text)
        if daemon.poll() is not None or time.monotonic() - started > timeout:
            print(f"\nmake up: failed (log: {log_path}); cleaning up", file=sys.stderr)
            down()
            return 1
        time.sleep(1)
    ready = json.loads((RUN_DIR / "ready.json").read_text())
    kubectl = [ready["kubectl"], f"--kubeconfig={ready['kubeconfig']}"]
    print(subprocess.run([*kubectl, "get", "modelops", "-A"], capture_output=True, text=True, check=False).stdout)
    print(subprocess.run([*kubectl, "get", "pods", "-A"], capture_output=True, text=True, check=False).stdout)
    print(f"up in {time.monotonic() - started:.0f} s (cluster start: {ready['timings']})")
    print(f"\nkubeconfig: {ready['kubeconfig']}\n  export KUBECONFIG={ready['kubeconfig']}")
    print(f"operator: helm release modelops in namespace {OPERATOR_NAMESPACE}; quick start in namespace {NAMESPACE}")
    print(f"\ncall the model:\n{ready['command']}\n")
    answer = subprocess.run(["bash", "-c", ready["command"]], capture_output=True, text=True, check=False)
    print(f"(that command, run once now, answered: {answer.stdout.strip() or answer.stderr.strip()})")
    print("\nstop and clean everything: make down")
    return 0 if '"predictions"' in answer.stdout else 1


def down() -> int:
    if kind_available():
        return subprocess.run(["bash", str(REPO_ROOT / "hack" / "kind-down.sh")], check=False).returncode
    pid_file = RUN_DIR / "pid"
    if pid_file.exists():
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.5)
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if (RUN_DIR / "ready.json").exists():
        shutil.rmtree(json.loads((RUN_DIR / "ready.json").read_text())["control_plane_dir"], ignore_errors=True)
    left = sweep(NodeNetwork())
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    if left:
        print("make down: still on this machine:\n  " + "\n  ".join(left), file=sys.stderr)
        return 1
    print("make down: stopped; no process, network namespace, link, iptables chain, mount or cgroup left")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelops.testing.up", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "serve"])
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds `up` waits for the model to be served")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve()
        return 0
    return up(args.timeout) if args.command == "up" else down()


if __name__ == "__main__":
    sys.exit(main())
