"""docs/openapi.yaml describes exactly the routes the web app registers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from tests.support.desk_app import running_desk

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
METHODS = {"get", "post", "put", "patch", "delete"}


def described_routes() -> set[tuple[str, str]]:
    spec: dict[str, Any] = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }


def registered_routes(app: web.Application) -> set[tuple[str, str]]:
    routes = set()
    for resource in app.router.resources():
        if isinstance(resource, web.StaticResource):
            path = resource.canonical + "/{filename}"
        else:
            path = resource.canonical
        for route in resource:
            if route.method != "HEAD":  # aiohttp adds HEAD to every GET
                routes.add((route.method, path))
    return routes


async def test_every_registered_route_is_described_and_nothing_else(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        registered = registered_routes(desk.client.app)
    described = described_routes()
    assert registered - described == set(), "routes missing from docs/openapi.yaml"
    assert described - registered == set(), "docs/openapi.yaml describes routes the app lacks"


def test_the_description_is_a_valid_openapi_3_document() -> None:
    import schemathesis

    schema = schemathesis.openapi.from_path(OPENAPI)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} == described_routes()
