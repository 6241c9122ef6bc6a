// Command kstatus prints what sigs.k8s.io/cli-utils' kstatus (the library Flux's `wait: true`,
// kpt and `kubectl`-style status waiters use) computes for Kubernetes objects.
//
// It reads a JSON object or a List (`kubectl get ... -o json`) on stdin and writes one JSON
// line per object: {"kind", "name", "status", "message"}, status being InProgress, Current,
// Failed, Terminating or Unknown. The integration tests pipe live objects through it.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	var obj unstructured.Unstructured
	if err := obj.UnmarshalJSON(data); err != nil {
		return err
	}
	objects := []unstructured.Unstructured{obj}
	if obj.IsList() {
		list, err := obj.ToList()
		if err != nil {
			return err
		}
		objects = list.Items
	}
	encoder := json.NewEncoder(out)
	for i := range objects {
		res, err := status.Compute(&objects[i])
		if err != nil {
			return fmt.Errorf("%s %s: %w", objects[i].GetKind(), objects[i].GetName(), err)
		}
		line := result{Kind: objects[i].GetKind(), Name: objects[i].GetName(), Status: res.Status.String(), Message: res.Message}
		if err := encoder.Encode(line); err != nil {
			return err
		}
	}
	return nil
}
