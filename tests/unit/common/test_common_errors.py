"""Every error a client sees is RFC 9457 problem+json that says what to fix."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict

from k8sops_common.errors import ProblemError, install_problem_handlers


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int


def build_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    async def create(body: Body) -> dict[str, int]:
        if body.count == 13:
            raise ProblemError(409, "Unlucky", "Thirteen is taken; pick another count.")
        if body.count == 500:
            raise RuntimeError("boom")
        return {"count": body.count}

    return app


def test_validation_errors_name_the_fields() -> None:
    response = TestClient(build_app()).post("/things", json={"count": "many", "extra": 1})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Invalid request" and problem["status"] == 422
    assert {error["field"] for error in problem["errors"]} == {"body.count", "body.extra"}


def test_domain_problems_keep_their_status_and_detail() -> None:
    problem = TestClient(build_app()).post("/things", json={"count": 13}).json()
    assert problem == {
        "type": "https://k8s-ops.example/problems/unlucky",
        "title": "Unlucky",
        "status": 409,
        "detail": "Thirteen is taken; pick another count.",
        "instance": "/things",
    }


def test_unknown_routes_and_crashes_are_problems_too() -> None:
    client = TestClient(build_app(), raise_server_exceptions=False)
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    crashed = client.post("/things", json={"count": 500})
    assert crashed.status_code == 500 and crashed.json()["title"] == "Internal error"
