"""Replays the recorded IdP request sequences in tests/idp/ (format: tests/idp/README.md)."""

import glob
import json
import os
import re

import pytest

from conftest import REPO_ROOT, assert_scim_json

IDP_DIR = os.path.join(REPO_ROOT, "tests", "idp")
TRANSCRIPTS = sorted(glob.glob(os.path.join(IDP_DIR, "*", "*.json")))
VAR = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def _subst(value, env):
    if isinstance(value, str):
        def repl(m):
            if m.group(1) not in env:
                raise AssertionError(f"transcript uses ${{{m.group(1)}}} before saving it")
            return env[m.group(1)]
        return VAR.sub(repl, value)
    if isinstance(value, list):
        return [_subst(v, env) for v in value]
    if isinstance(value, dict):
        return {_subst(k, env): _subst(v, env) for k, v in value.items()}
    return value


def _dig(doc, dotted):
    cur = doc
    for part in dotted.split("."):
        if isinstance(cur, list):
            cur = cur[int(part)]
        elif isinstance(cur, dict):
            if part not in cur:
                return None
            cur = cur[part]
        else:
            return None
    return cur


def _matches(expected, actual, where="$"):
    """Subset match; returns None or a description of the first mismatch."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected object, got {actual!r}"
        for k, v in expected.items():
            if v == "$absent":
                if k in actual:
                    return f"{where}.{k}: expected absent, got {actual[k]!r}"
                continue
            if k not in actual:
                return f"{where}.{k}: missing"
            err = _matches(v, actual[k], f"{where}.{k}")
            if err:
                return err
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected array, got {actual!r}"
        for i, e in enumerate(expected):
            if not any(_matches(e, a) is None for a in actual):
                return f"{where}[{i}]: no element matches {e!r} in {actual!r}"
        return None
    if expected != actual:
        return f"{where}: expected {expected!r}, got {actual!r}"
    return None


def test_transcripts_exist():
    assert TRANSCRIPTS, f"no transcripts under {IDP_DIR}"


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[os.path.relpath(p, IDP_DIR) for p in TRANSCRIPTS])
def test_replay(path, scim):
    with open(path, encoding="utf-8") as f:
        transcript = json.load(f)
    env = {}
    for n, step in enumerate(transcript["steps"], 1):
        req = _subst(step["request"], env)
        target = req["path"] + ("?" + req["query"] if req.get("query") else "")
        r = scim.request(req["method"], target, body=req.get("body"), headers=req.get("headers"))
        where = f"{os.path.basename(path)} step {n} {req['method']} {target}"
        expect = _subst(step.get("expect", {}), env)
        assert r.status in expect.get("status", [200]), f"{where}: {r}"
        if r.body:
            assert_scim_json(r)
        if "json" in expect:
            err = _matches(expect["json"], r.json)
            assert err is None, f"{where}: {err}"
        for dotted, n_items in expect.get("json_len", {}).items():
            got = _dig(r.json, dotted) or []
            assert len(got) == n_items, f"{where}: len({dotted}) = {len(got)}, expected {n_items}"
        for name, dotted in step.get("save", {}).items():
            value = _dig(r.json, dotted)
            assert isinstance(value, str) and value, f"{where}: cannot save {name} from {dotted}"
            env[name] = value
