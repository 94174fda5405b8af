"""The README's "Scheduled crawls" examples stay true: the cron line, the systemd units and the
Kubernetes CronJob run real `newsarchive` commands with real flags (parsed by the CLI's own parser), the
exit codes they mention are the CLI's, and the Scrapyd example names a real deploy target, real spiders,
spider arguments and settings."""

from __future__ import annotations

import configparser
import inspect
import re
import shlex
from pathlib import Path

import pytest
import yaml

import crawler.settings
from crawler import cli_parser
from crawler.cli_crawl import user_agent
from crawler.cli_parser import build_parser
from spiders.registry import OUTLETS

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text("utf-8")
SECTION = README[
    README.index("## Scheduled crawls") : README.index("\n## ", README.index("## Scheduled crawls") + 3)
]
EXIT_CODES = {getattr(cli_parser, n) for n in dir(cli_parser) if n.startswith("EXIT_")}


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", SECTION, re.S)


def newsarchive_args(words: list[str]) -> list[str]:
    """The arguments after the `newsarchive` program in a command line, up to a shell redirection."""
    operators = (">>", ">", "2>&1", "|", "&&", ";")
    # the program, not a folder of the same name (`cd /srv/newsarchive && ...`)
    start = next(
        i
        for i, w in enumerate(words[:-1])
        if Path(w).name == "newsarchive" and words[i - 1 : i] != ["cd"] and words[i + 1] not in operators
    )
    args = []
    for word in words[start + 1 :]:
        if word in operators:
            break
        args.append(word)
    return args


def assert_parses(args: list[str]) -> None:
    """The CLI's parser accepts the command and every flag (a wrong one exits 2)."""
    parsed = build_parser().parse_args(args)
    assert parsed.command == args[0]


def test_cron_line_runs_a_real_crawl() -> None:
    [block] = blocks("cron")
    [line] = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]
    fields = line.split(None, 5)
    assert len(fields) == 6 and all(re.fullmatch(r"[\d*/,-]+", f) for f in fields[:5]), fields[:5]
    args = newsarchive_args(shlex.split(fields[5]))
    assert_parses(args)
    assert args[:1] == ["crawl"] and "--archive" in args
    assert "flock" not in line  # the crawl locks the root itself


def systemd_units() -> dict[str, configparser.ConfigParser]:
    units = {}
    for block in blocks("ini"):
        name = re.match(r"# /etc/systemd/system/(\S+)\n", block)
        assert name, block[:80]
        unit = configparser.ConfigParser(interpolation=None, strict=True)
        unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
        unit.read_string(block)
        units[name.group(1)] = unit
    return units


def test_systemd_service_and_timer() -> None:
    units = systemd_units()
    assert set(units) == {"newsarchive.service", "newsarchive.timer"}
    service, timer = units["newsarchive.service"], units["newsarchive.timer"]
    assert service["Service"]["Type"] == "oneshot"
    exec_start = shlex.split(service["Service"]["ExecStart"])
    assert Path(exec_start[0]).name == "newsarchive" and exec_start[0].startswith("/")
    assert_parses(newsarchive_args(exec_start))
    assert {int(c) for c in service["Service"]["SuccessExitStatus"].split()} <= EXIT_CODES
    assert "OnCalendar" in timer["Timer"] and timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"
    # A timer starts the service of the same name unless it says otherwise.
    assert "Unit" not in timer["Timer"]
    assert "systemctl enable --now newsarchive.timer" in SECTION


def test_kubernetes_cronjob() -> None:
    [block] = blocks("yaml")
    job = yaml.safe_load(block)
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "CronJob")
    spec = job["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert len(spec["schedule"].split()) == 5
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    [container] = pod["containers"]
    assert container["command"] == ["newsarchive"]
    args = [str(a) for a in container["args"]]
    assert_parses(args)
    archive = args[args.index("--archive") + 1]
    spool = args[args.index("--spool") + 1]
    # The spool (or a local archive) lives on the claim, so the catalog and queued uploads survive a pod.
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    claims = {v["name"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
    assert any(mounts[name] == spool for name in claims) or any(mounts[name] == archive for name in claims)
    # Credentials from a Secret, the very one the README tells how to create.
    [secret] = [e["secretRef"]["name"] for e in container["envFrom"]]
    assert f"kubectl create secret generic {secret} " in " ".join(SECTION.split())
    env = {e["name"] for e in container["env"]}
    assert "NEWSARCHIVE_CONTACT" in env and not env & {"AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"}


def test_exit_code_table_is_the_clis() -> None:
    table = re.findall(r"^\| (\d+) \|", SECTION, re.M)
    assert {int(code) for code in table} == EXIT_CODES


def test_scrapy_cfg_has_a_loopback_deploy_target() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "scrapy.cfg")
    assert cfg["settings"]["default"] == "crawler.settings"
    assert dict(cfg["deploy:local"]) == {"url": "http://localhost:6800/", "project": "newsarchive"}
    assert "scrapyd-deploy local" in SECTION


def scrapyd_params() -> list[tuple[str, str]]:
    [block] = [b for b in blocks("sh") if "schedule.json" in b]
    words = shlex.split(block.replace("\\\n", " ").replace("$RUN_ID", "RUNID"), comments=True)
    return [tuple(words[i + 1].split("=", 1)) for i, w in enumerate(words) if w == "-d"]  # type: ignore[misc]


def test_scrapyd_schedule_names_real_spiders_arguments_and_settings() -> None:
    params = scrapyd_params()
    plain = dict(p for p in params if p[0] != "setting")
    assert plain.pop("project") == "newsarchive"
    spider = OUTLETS[plain.pop("spider")]
    accepted = inspect.signature(spider.__init__).parameters
    assert plain and all(name in accepted for name in plain), plain  # the rest are spider arguments
    settings = dict(value.split("=", 1) for name, value in params if name == "setting")
    assert {"ARCHIVE_ROOT", "NEWSARCHIVE_RUN_ID", "USER_AGENT"} <= set(settings)
    for name in settings:
        assert hasattr(crawler.settings, name), name
    assert settings["USER_AGENT"] == user_agent("you@example.org")


@pytest.mark.parametrize("name", ["ARCHIVE_ROOT", "NEWSARCHIVE_RUN_ID", "ARCHIVE_STORE", "USER_AGENT"])
def test_settings_the_scrapyd_notes_name_exist(name: str) -> None:
    assert f"`{name}`" in SECTION and hasattr(crawler.settings, name)
