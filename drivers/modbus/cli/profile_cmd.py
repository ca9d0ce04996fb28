"""``edgepost profile validate|show|list``: check firmware profiles and print their register maps.

Profiles come from the search path: ``--dir`` directories, ``$EDGEPOST_PROFILE_DIR``, the config's
``profile_dirs`` (default ``/etc/edgepost/profiles``), then the shipped ones; ``list`` and ``show``
say which file each profile came from. Every error is one line on stderr and exit code 1; never a
traceback.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table as RichTable

from agent.config import DEFAULT_CONFIG_PATH, read_profile_dirs
from agent.errors import ConfigError, ProfileError
from drivers.dlt645.profiles import Dlt645Profiles
from drivers.modbus.byte_layout import layout_letters
from drivers.modbus.profile import Alarm, Point, Profile, Table
from drivers.modbus.profile_firmware import describe
from drivers.modbus.profiles import DEFAULT_PROFILE_DIR, ProfileRegistry, profile_search_path

app = typer.Typer(help="Firmware profiles: validate, show, list.", no_args_is_help=True)

DirOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--dir",
        help="profile directory searched first (repeatable); then $EDGEPOST_PROFILE_DIR (':'-separated), "
        "the config's profile_dirs (default /etc/edgepost/profiles) and the shipped profiles",
    ),
]


def _site_dirs(ctx: typer.Context) -> list[Path] | None:
    """The config's ``profile_dirs`` when the command runs under ``edgepost`` with a config file."""
    path = getattr(ctx.obj, "config_path", None)
    if not isinstance(path, Path) or (path == DEFAULT_CONFIG_PATH and not path.exists()):
        return None
    try:
        return read_profile_dirs(path)
    except ConfigError as exc:
        sys.stderr.write(f"edgepost profile: note: profile_dirs of {path} not used: {' | '.join(exc.problems)}\n")
        return None


def _search_path(ctx: typer.Context, directories: list[Path] | None) -> list[Path]:
    ordered = dict.fromkeys([*(directories or []), *profile_search_path(_site_dirs(ctx))])
    return list(ordered)


def _load(ctx: typer.Context, directories: list[Path] | None) -> ProfileRegistry:
    return ProfileRegistry.load(_search_path(ctx, directories))


def _where(registry: ProfileRegistry, profile_id: str) -> str:
    """Where a profile came from: ``shipped``, or the site file (and the file it overrides)."""
    origin = registry.origin(profile_id)
    if origin is None:
        return ""
    if origin.is_relative_to(DEFAULT_PROFILE_DIR):
        return "shipped"
    shadowed = registry.shadowed.get(profile_id, [])
    overrides = [("shipped" if p.is_relative_to(DEFAULT_PROFILE_DIR) else str(p)) for p in shadowed]
    return f"{origin}" + (f" (overrides {', '.join(overrides)})" if overrides else "")


def _console() -> Console:
    # a pipe or a test runner gets the whole table (file paths included) instead of one cut at 80 columns
    return Console(width=None if sys.stdout.isatty() else 1000, highlight=False)


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"edgepost profile: error: {' | '.join(message.splitlines())}\n")
    return typer.Exit(1)


def _wants_json(ctx: typer.Context, flag: bool = False) -> bool:
    """``--json`` on the command, or the global ``edgepost --json`` (its state object carries ``json``)."""
    return flag or bool(getattr(ctx.obj, "json", False))


def _write_json(data: object) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


@app.command()
def validate(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None, typer.Argument(help="profile directories or files (default: the whole search path)")
    ] = None,
) -> None:
    """Check profiles of every driver, each by its driver's rules: one 'file:line:col path: message' line per problem.

    Exit 1 if there is any. The count says how many profiles of each driver were checked.
    """
    problems: list[str] = []
    checked: Counter[str] = Counter()
    if not paths:
        registry = _load(ctx, None)
        problems = list(registry.errors)
        checked["modbus"] = len(registry.ids()) + len([k for k in registry.problems if k])
        for directory in _search_path(ctx, None):
            found, count = _dlt645_problems(directory)
            problems.extend(found)
            checked["dlt645"] += count
    for path in paths or []:
        found, counts = _problems_of(ctx, path)
        problems.extend(found)
        checked.update(counts)
    total = sum(checked.values())
    if _wants_json(ctx):
        by_driver = {driver: count for driver, count in sorted(checked.items()) if count}
        _write_json({"valid": not problems, "checked": total, "by_driver": by_driver, "problems": problems})
        if problems:
            raise typer.Exit(1)
        return
    for line in problems:
        sys.stdout.write(line + "\n")
    split = ", ".join(f"{driver} {count}" for driver, count in sorted(checked.items()) if count)
    drivers = f" ({split})" if split else ""
    if problems:
        sys.stdout.write(f"{len(problems)} problem(s) in {total} profile(s){drivers}\n")
        raise typer.Exit(1)
    sys.stdout.write(f"{total} profile(s) valid{drivers}\n")


def _dlt645_problems(directory: Path, only: str | None = None) -> tuple[list[str], int]:
    """DL/T 645 profiles (``driver: dlt645``) of one directory, by their own rules: problems and count."""
    if not directory.is_dir():
        return [], 0
    registry = Dlt645Profiles.load(directory)
    ids = [i for i in [*registry.ids(), *registry.problems] if i and (only is None or i == only)]
    return [line for i in sorted(ids) for line in registry.problems.get(i, [])], len(ids)


def _problems_of(ctx: typer.Context, path: Path) -> tuple[list[str], Counter[str]]:
    """Problems of the profiles in ``path`` only; the rest of the search path is there for ``extends:``."""
    if path.is_dir():
        registry = ProfileRegistry.load(_search_path(ctx, [path]))
        mine = [i for i, origin in registry.origins.items() if origin.is_relative_to(path)]
        found, dlt645 = _dlt645_problems(path)
        modbus = [line for i in sorted(mine) for line in registry.problems.get(i, [])]
        return modbus + found, Counter(modbus=len(mine), dlt645=dlt645)
    if not path.is_file():
        return [f"{path}: no such file or directory"], Counter()
    # a single file is checked inside its tree (vendor/file.yaml) so that 'extends:' resolves
    root = path.parent.parent
    profile_id = f"{path.parent.name}/{path.stem}"
    found, dlt645 = _dlt645_problems(root, only=profile_id)
    if dlt645:
        return found, Counter(dlt645=dlt645)
    registry = ProfileRegistry.load(_search_path(ctx, [root]))
    return registry.problems.get(profile_id, []), Counter(modbus=1)


@app.command("list")
def list_profiles(ctx: typer.Context, directory: DirOption = None) -> None:
    """List the profiles that load, with their firmware range, whether the map is verified, and where it came from."""
    registry = _load(ctx, directory)
    if _wants_json(ctx):
        _write_json(
            [
                {
                    "id": p.id,
                    "vendor": p.vendor,
                    "model": p.model,
                    "firmware": p.firmware.model_dump(),
                    "verified": p.verified,
                    "extends": p.extends,
                    "points": len(p.points),
                    "file": str(registry.origin(p.id)),
                    "overrides": [str(s) for s in registry.shadowed.get(p.id, [])],
                }
                for p in registry.all()
            ]
        )
        return
    table = RichTable("id", "vendor", "model", "firmware", "verified", "points", "alarms", "extends", "from")
    for profile in registry.all():
        table.add_row(
            profile.id,
            profile.vendor,
            profile.model,
            describe(profile.firmware),
            "yes" if profile.verified else "no",
            str(len(profile.points)),
            str(len(profile.alarms)),
            profile.extends or "",
            _where(registry, profile.id),
        )
    _console().print(table)
    if registry.errors:
        sys.stderr.write(f"{len(registry.problems)} profile file(s) have problems: run 'edgepost profile validate'\n")


@app.command()
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="profile id (vendor/file) or vendor/model")],
    firmware: Annotated[str | None, typer.Option("--firmware", help="firmware version the device reports")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="the resolved profile as JSON")] = False,
    directory: DirOption = None,
) -> None:
    """Print a profile's points (and alarms) after 'extends:' is resolved, and the file it came from."""
    registry = _load(ctx, directory)
    try:
        profile = registry.get(name, firmware)
    except ProfileError as exc:
        hint = ""
        if any(name in key or key.endswith(name) for key in registry.problems):
            hint = " (a profile file with that name has problems: run 'edgepost profile validate')"
        raise _fail(f"{exc}{hint}") from None
    if _wants_json(ctx, json_output):
        origin = registry.origin(profile.id)
        overrides = [str(s) for s in registry.shadowed.get(profile.id, [])]
        _write_json({**profile.model_dump(mode="json"), "file": str(origin), "overrides": overrides})
        return
    origin = registry.origin(profile.id)
    where = _where(registry, profile.id)
    _print_profile(profile, f"{origin} (shipped)" if where == "shipped" else where)


def _print_profile(profile: Profile, where: str) -> None:
    console = _console()
    verified = "verified from manufacturer docs" if profile.verified else "NOT verified"
    title = f"{profile.id}  {profile.vendor} {profile.model}  {describe(profile.firmware)}  {verified}"
    console.print(title, markup=False, style="bold")
    console.print(f"file {where}", markup=False)
    if profile.extends:
        console.print(f"extends {profile.extends}")
    serial = profile.serial
    console.print(f"serial {serial.baudrate} {serial.bytesize}{serial.parity}{serial.stopbits}", markup=False)
    points = RichTable(
        "name", "table", "address", "type", "order", "scale", "unit", "access", "range", "period", "deadband"
    )
    ordered = sorted(profile.points.items(), key=lambda item: (_TABLE_ORDER.index(item[1].table), item[1].address))
    for point_name, point in ordered:
        points.add_row(*_point_row(point_name, point))
    console.print(points)
    if profile.alarms:
        alarms = RichTable("alarm", "point", "condition", "hysteresis", "priority", "message")
        for alarm_name, alarm in profile.alarms.items():
            alarms.add_row(
                alarm_name, alarm.point, _condition(alarm), f"{alarm.hysteresis:g}", alarm.priority, alarm.message or ""
            )
        console.print(alarms)
    for doubt in profile.doubts:
        console.print(f"doubt: {doubt}", markup=False)


_TABLE_ORDER = list(Table)


def _point_row(name: str, point: Point) -> list[str]:
    type_text = f"string({point.length})" if point.length is not None and point.type == "string" else point.type
    return [
        name,
        point.table,
        f"{point.address} (0x{point.address:04X})",
        type_text,
        byte_layout(point),
        "" if point.scale == 1 and point.offset == 0 else _scale_text(point),
        point.unit or "",
        point.access,
        _range(point),
        f"{point.period:g} s" if point.period is not None else "",
        f"{point.deadband:g}" if point.deadband is not None else "",
    ]


def byte_layout(point: Point) -> str:
    """Wire order of the value's bytes, A = most significant: ABCD, CDAB, BADC, DCBA (as ``order:`` takes)."""
    if point.table.is_bit:
        return "-"
    return layout_letters(
        point.register_count, point.byte_order, point.word_order, swap_words=point.type != "string"
    )


def _scale_text(point: Point) -> str:
    text = f"x{point.scale!r}"
    if point.offset:
        text += f" {point.offset:+g}"
    return text


def _range(point: Point) -> str:
    if point.min is None and point.max is None:
        return ""
    low = f"{point.min:g}" if point.min is not None else ""
    high = f"{point.max:g}" if point.max is not None else ""
    return f"{low}..{high}"


def _condition(alarm: Alarm) -> str:
    value = f"|{alarm.point}|" if alarm.absolute else alarm.point
    parts = []
    if alarm.above is not None:
        parts.append(f"{value} > {alarm.above:g}")
    if alarm.below is not None:
        parts.append(f"{value} < {alarm.below:g}")
    return " or ".join(parts)
