"""The store's per-node pod index (behind `fieldSelector=spec.nodeName=`) follows every write, and a
dry run's throwaway copy never touches the real one."""

from __future__ import annotations

from typing import Any

from k8sops_sandbox.selectors import parse_field_selector, required_value
from k8sops_sandbox.store import Store


def pod(name: str, node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "namespace": "shop"}, "spec": spec, "status": {}}


def names(pods: list[dict[str, Any]]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_the_index_follows_create_bind_move_and_delete() -> None:
    store = Store("c1")
    store.create("pods", pod("b", "n1"))
    store.create("pods", pod("a"))
    assert names(store.pods_on_node("n1")) == ["b"]
    store.mutate("pods", "shop", "a", lambda p: p["spec"].__setitem__("nodeName", "n1"))
    assert names(store.pods_on_node("n1")) == ["a", "b"]
    store.mutate("pods", "shop", "b", lambda p: p["spec"].__setitem__("nodeName", "n2"))
    assert (names(store.pods_on_node("n1")), names(store.pods_on_node("n2"))) == (["a"], ["b"])
    store.delete("pods", "shop", "a")
    assert store.pods_on_node("n1") == []
    assert names(store.pods_on_node("n2", "other-namespace")) == []
    assert names(list(store.items("pods"))) == ["b"]


def test_a_fork_keeps_its_writes_to_itself() -> None:
    store = Store("c1")
    store.create("pods", pod("a", "n1"))
    twin = store.fork()
    twin.delete("pods", "shop", "a")
    twin.create("pods", pod("z", "n1"))
    assert names(twin.pods_on_node("n1")) == ["z"]
    assert names(store.pods_on_node("n1")) == ["a"]
    assert names(list(store.items("pods"))) == ["a"]


def test_the_node_a_field_selector_requires() -> None:
    assert required_value("status.phase=Running,spec.nodeName=n1", "spec.nodeName") == "n1"
    assert required_value("spec.nodeName==n1", "spec.nodeName") == "n1"
    assert required_value("spec.nodeName!=n1", "spec.nodeName") is None
    assert required_value(None, "spec.nodeName") is None
    selected = parse_field_selector("spec.nodeName=n1,metadata.name!=b")
    assert [selected(pod("a", "n1")), selected(pod("b", "n1")), selected(pod("c", "n2"))] == [True, False, False]
