#!/usr/bin/env bash
# `make down` where Docker and kind exist: deleting the kind cluster removes everything `make up` made.
set -euo pipefail
kind delete cluster --name modelops
