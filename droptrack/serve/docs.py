"""The API reference of `dt serve` at /docs: one HTML page built from the app's own OpenAPI schema and routes.

FastAPI's Swagger UI loads its script and styles from a CDN, so on a machine without internet (a Jetson in the
field) /docs was a blank page. This page needs nothing else: no script, no external file; the full schema stays
at /openapi.json for OpenAPI tools.
"""

from __future__ import annotations

import html
import json
import re

from starlette.routing import WebSocketRoute

STYLE = """body { font: 14px system-ui, sans-serif; max-width: 60em; margin: 1em auto; padding: 0 1em; }
code { background: #f0f0f0; padding: 0 .2em; } h3 code { background: none; } h3 { margin-bottom: .2em; }
section { border-top: 1px solid #ddd; } .fields { color: #333; }"""
CODE = re.compile(r"`([^`]+)`")


def _text(s: str) -> str:
    """Escaped text with `code` spans and paragraphs kept."""
    paragraphs = [" ".join(p.split()) for p in s.split("\n\n") if p.strip()]
    return "".join("<p>" + CODE.sub(r"<code>\1</code>", html.escape(p)) + "</p>" for p in paragraphs)


def _component(schema: dict, schemas: dict) -> tuple[str, dict]:
    """The name and fields of the component a schema refers to ('' and {} for none)."""
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    return name, schemas.get(name, {}).get("properties", {}) if name else {}


def _type(schema: dict, schemas: dict) -> str:
    """A schema as a short type name: integer, number, Box {x: number, ...}, array of object."""
    name, fields = _component(schema, schemas)
    if name:
        return f"{name} {{" + ", ".join(f"{k}: {_type(v, schemas)}" for k, v in fields.items()) + "}"
    if "anyOf" in schema:
        return " or ".join(_type(s, schemas) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return "array of " + _type(schema.get("items", {}), schemas)
    return schema.get("type", "any")


def _operation(method: str, path: str, op: dict, schemas: dict) -> str:
    """One HTTP operation: method, path, summary, description, parameters, body (with its example), answers."""
    rows = [f"{html.escape(p.get('in', ''))} parameter <code>{html.escape(p['name'])}</code>: "
            f"{html.escape(_type(p.get('schema', {}), schemas))}" for p in op.get("parameters", [])]
    for media, body in op.get("requestBody", {}).get("content", {}).items():
        fields = _component(body.get("schema", {}), schemas)[1]
        example = {k: v["examples"][0] for k, v in fields.items() if v.get("examples")}
        rows.append(f"body ({html.escape(media)}): {html.escape(_type(body.get('schema', {}), schemas))}"
                    + (f", e.g. <code>{html.escape(json.dumps(example))}</code>" if example else ""))
    rows.append("answers: " + ", ".join(f"{html.escape(code)} {html.escape(r.get('description', ''))}"
                                        for code, r in op.get("responses", {}).items()))
    items = "".join(f"<li>{r}</li>" for r in rows)
    return (f'<section><h3><code>{method.upper()} {html.escape(path)}</code> {html.escape(op.get("summary", ""))}</h3>'
            f'{_text(op.get("description", ""))}<ul class="fields">{items}</ul></section>')


def reference_page(app) -> str:
    """The reference page of a FastAPI app: its description, every HTTP operation and every WebSocket."""
    schema = app.openapi()
    info, schemas = schema.get("info", {}), schema.get("components", {}).get("schemas", {})
    ops = [_operation(method, path, op, schemas) for path, item in schema.get("paths", {}).items()
           for method, op in item.items()]
    sockets = [f"<section><h3><code>WebSocket {html.escape(r.path)}</code></h3>{_text(r.endpoint.__doc__ or '')}"
               "</section>" for r in app.routes if isinstance(r, WebSocketRoute)]
    title = html.escape(f"{info.get('title', '')} {info.get('version', '')} API")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{STYLE}</style></head><body><h1>{title}</h1>{_text(info.get('description', ''))}"
            '<p>The machine-readable schema (OpenAPI 3) is <a href="openapi.json">openapi.json</a>; this page '
            f"needs no internet.</p><h2>HTTP</h2>{''.join(ops)}<h2>WebSockets</h2>{''.join(sockets)}</body></html>")
