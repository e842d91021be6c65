"""Drives the real Alembic (Debian's python3-alembic, 1.8) for the differential test.

Reads one JSON request per line on stdin and answers one JSON line on stdout:
  {"cmd": "graph", "dir": D, "schema": S, "revisions": [{id, down, labels, deps}]}
      writes an Alembic script directory in D whose revisions each create the table S.t_<id>
  {"cmd": "op", "dir": D, "schema": S, "op": "upgrade"|"downgrade"|"stamp", "target": T, "purge": bool}
      runs the command; answers {"ok": bool, "error": str, "rows": [...], "tables": [...]}
  {"cmd": "sql", "dir": D, "schema": S, "op": "upgrade"|"downgrade", "range": "FROM:TO"}
      the offline script (--sql); answers {"ok": bool, "error": str, "out": str}
  {"cmd": "show", "dir": D, "schema": S, "command": "current"|"heads"|"history"|"show"|"branches", "args": {...}}
      runs a command that reads (args are the command function's keyword arguments); answers
      {"ok": bool, "error": str, "out": str} with what it printed
Each revision runs in a transaction of its own (transaction_per_migration), as cmmc-db runs them.
Run with /usr/bin/python3; the database URL is the first argument.
"""
import io
import json
import os
import sys
import warnings

from alembic import command
from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from sqlalchemy import create_engine, text

URL = sys.argv[1]
engine = create_engine(URL)

# Each command builds a ScriptDirectory and re-reads every revision file; within one sequence the
# files do not change, so keep one per folder (the revision map is then built once per graph).
_scripts = {}
_from_config = ScriptDirectory.from_config.__func__


def _cached_from_config(cls, config):
    key = config.get_main_option("script_location")
    if key not in _scripts:
        _scripts[key] = _from_config(cls, config)
    return _scripts[key]


ScriptDirectory.from_config = classmethod(_cached_from_config)

# Alembic 1.8 reads the versions folder in os.listdir order, which is the file system's (on ext4, a
# hash of the names): where a walk may take independent branches in either order, that order decides,
# and the same graph could walk differently on another disk. cmmc-db reads revision files in name
# order; read them so here too (the files are numbered in the graph's order), so that a difference
# found is one of semantics, not of the disk.
_list_py_dir = Script._list_py_dir.__func__


def _sorted_py_dir(cls, scriptdir, path):
    return sorted(_list_py_dir(cls, scriptdir, path))


Script._list_py_dir = classmethod(_sorted_py_dir)

ENV_PY = '''
from alembic import context
from sqlalchemy import create_engine
if context.is_offline_mode():
    context.configure(
        url=context.config.attributes["engine"].url,
        version_table_schema=context.config.attributes["schema"],
        transaction_per_migration=True,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    with context.config.attributes["engine"].connect() as connection:
        context.configure(
            connection=connection,
            version_table_schema=context.config.attributes["schema"],
            transaction_per_migration=True,
        )
        context.run_migrations()
'''


def write_graph(directory, schema, revisions):
    versions = os.path.join(directory, "versions")
    os.makedirs(versions, exist_ok=True)
    with open(os.path.join(directory, "env.py"), "w") as f:
        f.write(ENV_PY)
    for i, r in enumerate(revisions):
        down = r["down"]
        down_py = "None" if not down else repr(down[0]) if len(down) == 1 else repr(tuple(down))
        labels = repr(tuple(r["labels"])) if r["labels"] else "None"
        deps = repr(tuple(r["deps"])) if r["deps"] else "None"
        with open(os.path.join(versions, "%03d_%s.py" % (i, r["id"])), "w") as f:
            f.write(
                "from alembic import op\n"
                "revision = %r\ndown_revision = %s\nbranch_labels = %s\ndepends_on = %s\n"
                "def upgrade():\n    op.execute('CREATE TABLE \"%s\".\"t_%s\" (id int)')\n"
                "def downgrade():\n    op.execute('DROP TABLE \"%s\".\"t_%s\"')\n"
                % (r["id"], down_py, labels, deps, schema, r["id"], schema, r["id"])
            )
    with engine.begin() as conn:
        conn.execute(text('DROP SCHEMA IF EXISTS "%s" CASCADE' % schema))
        conn.execute(text('CREATE SCHEMA "%s"' % schema))


def state(schema):
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": '"%s".alembic_version' % schema}).scalar()
        rows = []
        if exists:
            rows = sorted(r[0] for r in conn.execute(text('SELECT version_num FROM "%s".alembic_version' % schema)))
        tables = sorted(
            r[0][2:]
            for r in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :s AND tablename LIKE 't\\_%'"), {"s": schema}
            )
        )
    return rows, tables


def run_op(req):
    cfg = Config()
    cfg.set_main_option("script_location", req["dir"])
    cfg.attributes["engine"] = engine
    cfg.attributes["schema"] = req["schema"]
    op, target = req["op"], req["target"]
    ok, error = True, ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if op == "upgrade":
                command.upgrade(cfg, target)
            elif op == "downgrade":
                command.downgrade(cfg, target)
            else:
                command.stamp(cfg, target.split(" "), purge=bool(req.get("purge")))
    except BaseException as e:  # Alembic's asserts and KeyErrors are refusals too
        ok, error = False, "%s: %s" % (type(e).__name__, e)
    rows, tables = state(req["schema"])
    return {"ok": ok, "error": error, "rows": rows, "tables": tables}


def run_captured(req, call):
    """Runs call(cfg) with what it prints (and the offline script it writes) captured."""
    out = io.StringIO()
    cfg = Config(stdout=out, output_buffer=out)
    cfg.set_main_option("script_location", req["dir"])
    cfg.attributes["engine"] = engine
    cfg.attributes["schema"] = req["schema"]
    ok, error = True, ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call(cfg)
    except BaseException as e:
        ok, error = False, "%s: %s" % (type(e).__name__, e)
    return {"ok": ok, "error": error, "out": out.getvalue()}


def run_show(req):
    return run_captured(req, lambda cfg: getattr(command, req["command"])(cfg, **req.get("args", {})))


def run_sql(req):
    return run_captured(req, lambda cfg: getattr(command, req["op"])(cfg, req["range"], sql=True))


for line in sys.stdin:
    req = json.loads(line)
    try:
        if req["cmd"] == "graph":
            write_graph(req["dir"], req["schema"], req["revisions"])
            out = {"ok": True}
        elif req["cmd"] == "sql":
            out = run_sql(req)
        elif req["cmd"] == "show":
            out = run_show(req)
        elif req["cmd"] == "drop":
            _scripts.clear()
            with engine.begin() as conn:
                conn.execute(text('DROP SCHEMA IF EXISTS "%s" CASCADE' % req["schema"]))
            out = {"ok": True}
        else:
            out = run_op(req)
    except BaseException as e:
        out = {"ok": False, "error": "driver: %s: %s" % (type(e).__name__, e), "rows": [], "tables": []}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
