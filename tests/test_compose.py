"""Static checks of the deployment files: docker/compose.yaml, docker/Dockerfile and /.dockerignore.

No Docker and no database: the files are parsed and cross-checked against the code they start
(management commands, settings read from the environment, URLs). Django is never imported.
"""

import importlib.util
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE_PATH = REPO / "docker" / "compose.yaml"
DOCKERFILE_PATH = REPO / "docker" / "Dockerfile"
SETTINGS_PATH = REPO / "mdr" / "settings.py"
SOURCE_DIRS = ("mdr", "tenants", "reports")

APP_SERVICES = ("migrate", "web", "worker", "scheduler")
ALL_SERVICES = ("postgres", "redis", *APP_SERVICES)
REQUIRED_ENV = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MDR_BASE_DOMAIN")
WEB_PORT = "8000"

ENV_READ_RE = re.compile(
    r"""\benv\.(?:str|bool|int|list|float|db_url|email_url|url|json|path|cache_url)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
)


# -- helpers ---------------------------------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load(COMPOSE_PATH.read_text(encoding="utf-8"))


def service(name: str) -> dict:
    return compose()["services"][name]


def command_argv(svc: dict) -> list[str]:
    cmd = svc["command"]
    return list(cmd) if isinstance(cmd, list) else shlex.split(cmd)


def settings_env_names(source: str) -> set[str]:
    """Names of the environment variables a settings module reads through django-environ."""
    return set(ENV_READ_RE.findall(source))


def unknown_env_names(environment: dict, known: set[str]) -> set[str]:
    return set(environment) - known


def project_management_commands() -> set[str]:
    found = set()
    for top in SOURCE_DIRS:
        for path in (REPO / top).glob("**/management/commands/*.py"):
            if path.name != "__init__.py":
                found.add(path.stem)
    return found


def django_dramatiq_dir() -> Path:
    spec = importlib.util.find_spec("django_dramatiq")  # locates the package without importing it
    assert spec is not None and spec.origin is not None, "django_dramatiq is not installed"
    return Path(spec.origin).parent


def declared_options(command_source: str) -> set[str]:
    """Every option string passed to parser.add_argument in a management command's source."""
    options = set()
    for call in re.finditer(r"add_argument\(([^)]*)\)", command_source, re.DOTALL):
        options.update(re.findall(r"""["'](-{1,2}[\w-]+)["']""", call.group(1)))
    return options


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    logical, current = [], ""
    for raw in DOCKERFILE_PATH.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        logical.append(current)
        current = ""
    pairs = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        pairs.append((keyword.upper(), args.strip()))
    return pairs


def dockerfile_args(keyword: str) -> list[str]:
    return [args for kw, args in dockerfile_instructions() if kw == keyword]


# -- services and image ----------------------------------------------------------------------------


def test_all_six_services_are_defined():
    # given
    services = compose()["services"]

    # when
    names = set(services)

    # then
    assert names == set(ALL_SERVICES)


def test_app_services_build_the_same_image_from_the_dockerfile():
    # given
    services = compose()["services"]

    # when
    builds = {name: services[name].get("build") for name in APP_SERVICES}
    images = {services[name].get("image") for name in APP_SERVICES}

    # then
    for name, build in builds.items():
        assert isinstance(build, dict), f"{name} has no build section"
        assert (COMPOSE_PATH.parent / build["context"]).resolve() == REPO, name
        assert (REPO / build["dockerfile"]).resolve() == DOCKERFILE_PATH, name
    assert len({json.dumps(b, sort_keys=True) for b in builds.values()}) == 1
    assert len(images) == 1


def test_dockerignore_at_context_root_keeps_local_state_out():
    # given
    ignore = REPO / ".dockerignore"

    # when
    patterns = {line.strip() for line in ignore.read_text(encoding="utf-8").splitlines() if line.strip()}

    # then
    for entry in (".venv", ".data", ".git", "staticfiles", "exports"):
        assert entry in patterns, entry
    assert any("__pycache__" in p for p in patterns)


# -- commands --------------------------------------------------------------------------------------


def test_project_management_commands_used_by_compose_exist():
    # given
    commands = project_management_commands()

    # when
    migrate_cmd = command_argv(service("migrate"))
    scheduler_cmd = command_argv(service("scheduler"))

    # then
    assert migrate_cmd == ["python", "manage.py", "migrate_all"]
    assert scheduler_cmd == ["python", "manage.py", "run_scheduler"]
    assert "migrate_all" in commands
    assert "run_scheduler" in commands


def test_worker_runs_rundramatiq_with_options_it_declares():
    # given
    rundramatiq = django_dramatiq_dir() / "management" / "commands" / "rundramatiq.py"
    declared = declared_options(rundramatiq.read_text(encoding="utf-8"))

    # when
    argv = command_argv(service("worker"))
    used = {arg for arg in argv if arg.startswith("-")}

    # then
    assert argv[:3] == ["python", "manage.py", "rundramatiq"]
    assert {"--processes", "--threads", "--queues"} <= declared
    assert used <= declared, f"unknown rundramatiq options: {used - declared}"


def test_worker_listens_on_every_queue_an_actor_uses():
    # given
    argv = command_argv(service("worker"))
    start = argv.index("--queues") + 1
    queues = set()
    for arg in argv[start:]:
        if arg.startswith("-"):
            break
        queues.add(arg)
    used = set()
    for top in SOURCE_DIRS:
        for path in (REPO / top).glob("**/*.py"):
            used.update(re.findall(r"""queue_name\s*=\s*["']([\w.-]+)["']""", path.read_text(encoding="utf-8")))

    # when
    orphaned = used - queues

    # then
    assert "default" in queues
    assert not orphaned, f"actors on queues no worker consumes: {orphaned}"


def test_web_runs_gunicorn_like_the_image_default():
    # given
    cmd = dockerfile_args("CMD")
    assert len(cmd) == 1

    # when
    image_cmd = json.loads(cmd[0])
    web_cmd = command_argv(service("web"))

    # then
    assert web_cmd == image_cmd
    assert web_cmd[:2] == ["gunicorn", "mdr.wsgi:application"]
    assert web_cmd[web_cmd.index("--bind") + 1] == f"0.0.0.0:{WEB_PORT}"
    assert (REPO / "mdr" / "wsgi.py").is_file()


# -- environment -----------------------------------------------------------------------------------


def test_settings_parser_finds_the_variables_settings_read():
    # given
    known = settings_env_names(SETTINGS_PATH.read_text(encoding="utf-8"))

    # when
    missing = set(REQUIRED_ENV) - known

    # then
    assert not missing, f"mdr/settings.py does not read {missing}"


def test_unknown_env_check_catches_a_misspelled_name():
    # given
    known = settings_env_names('A = env.str("REDIS_URL", default="")\nB = env.db_url("DATABASE_URL")\n')

    # when
    unknown = unknown_env_names({"REDIS_URL": "x", "DATABSE_URL": "y"}, known)

    # then
    assert unknown == {"DATABSE_URL"}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_sets_only_variables_settings_read(name):
    # given
    known = settings_env_names(SETTINGS_PATH.read_text(encoding="utf-8"))
    environment = service(name)["environment"]
    assert isinstance(environment, dict), "use the mapping form of environment"

    # when
    unknown = unknown_env_names(environment, known)

    # then
    assert not unknown, f"{name} sets variables mdr/settings.py never reads: {unknown}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_sets_the_required_variables(name):
    # given
    environment = service(name)["environment"]

    # when
    missing = [var for var in REQUIRED_ENV if not str(environment.get(var) or "").strip()]

    # then
    assert not missing
    assert environment["DATABASE_URL"] == "postgres://mdr:mdr@postgres:5432/mdr"
    assert environment["REDIS_URL"].startswith("redis://redis:6379/")
    assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?"), "SECRET_KEY must be required, not defaulted"
    assert environment["DJANGO_SECURE_COOKIES"] == "0"
    assert "DJANGO_DEBUG" not in environment


def test_database_url_matches_the_postgres_service():
    # given
    pg_env = service("postgres")["environment"]

    # when
    url = service("web")["environment"]["DATABASE_URL"]

    # then
    user, password, db = pg_env["POSTGRES_USER"], pg_env["POSTGRES_PASSWORD"], pg_env["POSTGRES_DB"]
    assert (user, password, db) == ("mdr", "mdr", "mdr")
    assert url == f"postgres://{user}:{password}@postgres:5432/{db}"


# -- health and ordering ---------------------------------------------------------------------------


def test_postgres_and_redis_have_healthchecks_and_volumes():
    # given
    postgres, redis = service("postgres"), service("redis")
    volumes = compose()["volumes"]

    # when
    pg_test = " ".join(postgres["healthcheck"]["test"])
    redis_test = " ".join(redis["healthcheck"]["test"])

    # then
    assert postgres["image"] == "postgres:16"
    assert "pg_isready" in pg_test
    assert "max_locks_per_transaction=256" in " ".join(command_argv(postgres))
    assert redis["image"] == "redis:7"
    assert "redis-cli ping" in redis_test
    assert command_argv(redis)[-2:] == ["--appendonly", "yes"]
    for svc in (postgres, redis):
        named = svc["volumes"][0].split(":")[0]
        assert named in volumes


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_postgres_and_redis(name):
    # given
    depends_on = service(name)["depends_on"]

    # when
    conditions = {dep: spec["condition"] for dep, spec in depends_on.items()}

    # then
    assert conditions["postgres"] == "service_healthy"
    assert conditions["redis"] == "service_healthy"


@pytest.mark.parametrize("name", ["web", "worker", "scheduler"])
def test_long_running_services_start_after_migrations_succeed(name):
    # given
    depends_on = service(name)["depends_on"]

    # when
    condition = depends_on["migrate"]["condition"]

    # then
    assert condition == "service_completed_successfully"


def test_migrate_runs_once():
    # given
    migrate = service("migrate")

    # when
    restart = migrate.get("restart")

    # then
    assert restart == "no"  # quoted in YAML: a bare `no` would load as False


def test_web_healthcheck_hits_an_existing_url_on_the_published_port():
    # given
    web = service("web")
    routing = (REPO / "mdr" / "core" / "middleware.py").read_text(encoding="utf-8")

    # when
    check = " ".join(web["healthcheck"]["test"]).replace("$$", "$")  # compose turns $$ into a literal $

    # then
    assert f"http://127.0.0.1:{WEB_PORT}/healthz" in check
    # the provider domain migrate_all registers; a host with no Domain row answers 404
    assert "Host: ${MDR_BASE_DOMAIN}" in check
    assert "MDR_BASE_DOMAIN" in web["environment"]
    # /healthz is answered by the routing middleware, before any database access
    assert 'request.path == "/healthz"' in routing
    assert f"{WEB_PORT}:{WEB_PORT}" in web["ports"]


# -- Dockerfile ------------------------------------------------------------------------------------


def test_dockerfile_base_user_and_port():
    # given
    instructions = dockerfile_instructions()

    # when
    froms = dockerfile_args("FROM")
    users = dockerfile_args("USER")
    exposed = " ".join(dockerfile_args("EXPOSE")).split()

    # then
    assert froms == ["python:3.11-slim-bookworm"]
    assert users and users[-1] == "mdr"
    assert exposed == [WEB_PORT]
    assert instructions[-1][0] == "CMD"


def test_dockerfile_installs_weasyprint_libraries_cjk_font_and_curl():
    # given
    runs = " ".join(dockerfile_args("RUN"))

    # when
    installed = set()
    for match in re.finditer(r"apt-get install((?:\s+[\w.+-]+)+)", runs):
        installed.update(word for word in match.group(1).split() if not word.startswith("-"))

    # then
    for package in (
        "libpango-1.0-0",
        "libpangoft2-1.0-0",
        "libharfbuzz0b",
        "libharfbuzz-subset0",
        "libffi8",
        "shared-mime-info",
        "fonts-noto-cjk",
        "curl",
    ):
        assert package in installed, package


def test_dockerfile_installs_the_project_and_collects_static_with_debug_only_for_that_step():
    # given
    runs = dockerfile_args("RUN")
    envs = " ".join(dockerfile_args("ENV"))

    # when
    collect = [run for run in runs if "collectstatic" in run]

    # then
    assert any(re.search(r"pip install --no-cache-dir .*\.$", run) for run in runs)
    assert len(collect) == 1
    assert "DJANGO_DEBUG=1 python manage.py collectstatic --noinput" in collect[0]
    assert "DJANGO_DEBUG" not in envs
    assert any(args.startswith("pyproject.toml") for args in dockerfile_args("COPY"))
