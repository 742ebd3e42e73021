"""``fatigue-sim``: write simulated EMG/accelerometer recordings with their ground truth.

Every error a user can cause (a bad flag, a value out of range, an unknown file extension,
an unwritable path) ends as one line on stderr and a non-zero exit code, never a
traceback: 2 for bad arguments, 1 for I/O failures.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from monitor.core.errors import MonitorError
from monitor.inputs.files.csv_args import add_csv_arguments, csv_options
from simulators.acc import AccGenerator, AccScenario
from simulators.emg import Dropout, EmgGenerator, EmgScenario, ForceStep, RestPeriod
from simulators.errors import ScenarioError, UnknownFormatError
from simulators.record import record
from simulators.scenarios import SETS, PlannedRecording, make_scenarios
from simulators.stream import Simulation
from simulators.truth import RecordingTruth, sidecar_path
from simulators.writers import format_for

PROG = "fatigue-sim"
#: Show a progress bar when a recording has at least this many values (about a second).
PROGRESS_MIN_VALUES = 5_000_000

_MAIN_EPILOG = """\
examples:
  fatigue-sim generate emg -o rec.edf --duration 180 --onset 60 --seed 1
      4-channel 2 kHz EMG, fatigue from 60 s; writes rec.edf and rec.edf.truth.json
  fatigue-sim generate emg -o steady.csv --no-fatigue --force 40:1.5 --force 90:0.7
      no fatigue, but two changes of force (MDF and RMS move together: not fatigue)
  fatigue-sim generate acc -o wrist.edf --fs 100 --onset 45 --seed 3
      3-axis accelerometer, physiological tremor grows 5x from 45 s
  fatigue-sim scenarios --n 60 --seed 7 -o bench/
      60 mixed recordings plus bench/truth.json, for scoring a detector

File formats follow the extension: .edf (EDF+ 16-bit), .bdf (BDF+ 24-bit), .csv
(header time,<channels>), .wav (float32; the unit is kept only in the truth file).
The truth format is documented in docs/truth-format.md.
"""

_EMG_EPILOG = """\
examples:
  fatigue-sim generate emg -o rec.edf --onset 60 --decline 0.3
  fatigue-sim generate emg -o rec.bdf --fs 1024 --channels 16 --duration 1800 --onset 600
  fatigue-sim generate emg -o rest.edf --no-fatigue --rest 60:80 --rest 150:170
  fatigue-sim generate emg -o noisy.edf --mains 50 --mains-mv 0.2 --motion 4 --dropout 30:35:2

Without --onset or --no-fatigue, fatigue starts a third of the way in.
"""

_ACC_EPILOG = """\
examples:
  fatigue-sim generate acc -o wrist.csv --onset 40 --gain 6
  fatigue-sim generate acc -o pd.edf --fs 200 --onset 30 --pathological 5 --pathological-rms 0.4
  fatigue-sim generate acc -o still.edf --no-tremor --duration 300

Without --onset or --no-tremor, the tremor starts a third of the way in.
"""

#: CLI flag of each scenario field, so range errors name what the user typed.
_FLAGS = {
    "fs": "--fs",
    "n_channels": "--channels",
    "duration_s": "--duration",
    "mdf0_hz": "--mdf0",
    "rms0_mv": "--rms",
    "onset_s": "--onset",
    "decline_per_min": "--decline",
    "mdf_floor": "--floor",
    "rms_gain": "--rms-gain",
    "recovery_tau_s": "--recovery-tau",
    "force_steps": "--force",
    "rests": "--rest",
    "mains_hz": "--mains",
    "mains_mv": "--mains-mv",
    "motion_per_min": "--motion",
    "motion_mv": "--motion-mv",
    "dropouts": "--dropout",
    "noise_mv": "--noise",
    "ramp_s": "--ramp",
    "tremor_hz": "--tremor-hz",
    "tremor_rms0": "--tremor-rms",
    "tremor_gain": "--gain",
    "pathological_hz": "--pathological",
    "pathological_rms": "--pathological-rms",
    "movement_rms": "--movement",
    "noise_rms": "--noise",
    "gravity_wobble_deg": "--wobble",
    "n": "--n",
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the usage block is what --help is for."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _number(kind: Callable[[str], float], low: float | None = None) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low:g}, got {text}")
        return value

    return parse


def _int(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def _floats(text: str, n: tuple[int, ...], what: str) -> list[float]:
    parts = text.split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in n or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return values


def _force_step(text: str) -> ForceStep:
    t, level = _floats(text, (2,), "T:LEVEL, e.g. 40:1.5")
    return ForceStep(t, level)


def _rest(text: str) -> RestPeriod:
    a, b = _floats(text, (2,), "START:END in seconds, e.g. 60:80")
    return RestPeriod(a, b)


def _dropout(text: str) -> Dropout:
    v = _floats(text, (2, 3), "START:END or START:END:CHANNEL (1-based), e.g. 30:35:2")
    if len(v) == 2:
        return Dropout(v[0], v[1])
    if not v[2].is_integer() or v[2] < 1:
        raise argparse.ArgumentTypeError(f"channel must be a 1-based integer, got {text!r}")
    return Dropout(v[0], v[1], channels=(int(v[2]) - 1,))


def _common(p: argparse.ArgumentParser, fs: float, duration: float, onset_help: str) -> None:
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        type=Path,
        help="recording to write; the extension picks the format "
        "(.edf .bdf .csv .wav); the truth goes to FILE.truth.json",
    )
    p.add_argument(
        "--duration",
        type=_number(float, 0.0),
        default=duration,
        metavar="S",
        help=f"length in seconds (default {duration:g})",
    )
    p.add_argument(
        "--fs",
        type=_number(float, 0.0),
        default=fs,
        metavar="HZ",
        help=f"sample rate (default {fs:g})",
    )
    p.add_argument(
        "--seed",
        type=_int(0),
        default=0,
        metavar="N",
        help="random seed; the same seed and options give the same file (default 0)",
    )
    p.add_argument("--onset", type=_number(float, 0.0), metavar="S", help=onset_help)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Generate simulated surface-EMG and accelerometer recordings with known\n"
        "ground truth (fatigue onset, true median frequency, tremor onset) for testing\n"
        "and scoring fatigue-monitor.",
        epilog=_MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = commands.add_parser(
        "generate",
        help="write one recording and its truth sidecar",
        description="Write one recording (emg or acc) and FILE.truth.json next to it.",
        epilog=_MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    modality = gen.add_subparsers(dest="modality", required=True, metavar="emg|acc")

    emg = modality.add_parser(
        "emg",
        help="surface EMG in mV",
        description="Surface EMG whose spectrum scales with muscle-fibre conduction velocity\n"
        "(Shwedyk/Lindström model): after the onset the median frequency falls linearly\n"
        "and the RMS rises. A change of force moves MDF and RMS the same way (not fatigue).",
        epilog=_EMG_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(emg, 2000.0, 180.0, "fatigue onset in seconds (default: a third of the duration)")
    emg.add_argument("--no-fatigue", action="store_true", help="no fatigue at all")
    emg.add_argument("--channels", type=_int(1), default=4, metavar="N", help="default 4")
    emg.add_argument(
        "--mdf0",
        type=_number(float),
        default=90.0,
        metavar="HZ",
        help="fresh median frequency in the 20-450 Hz band (default 90)",
    )
    emg.add_argument(
        "--rms",
        type=_number(float),
        default=0.3,
        metavar="MV",
        help="fresh RMS at reference force, mV (default 0.3)",
    )
    emg.add_argument(
        "--decline",
        type=_number(float),
        default=0.2,
        metavar="PER_MIN",
        help="MDF fall per minute of fatigue, fraction of the fresh MDF (0.2)",
    )
    emg.add_argument(
        "--floor",
        type=_number(float),
        default=0.5,
        metavar="FRACTION",
        help="MDF never falls below this fraction of the fresh MDF (0.5)",
    )
    emg.add_argument(
        "--rms-gain",
        type=_number(float),
        default=1.2,
        metavar="G",
        help="relative RMS rise per relative MDF fall (1.2)",
    )
    emg.add_argument(
        "--recovery-tau",
        type=_number(float),
        default=45.0,
        metavar="S",
        help="time constant of recovery during rests (45)",
    )
    emg.add_argument(
        "--force",
        type=_force_step,
        action="append",
        default=[],
        metavar="T:LEVEL",
        help="at T s ramp the force to LEVEL (1 = reference); repeatable",
    )
    emg.add_argument(
        "--rest",
        type=_rest,
        action="append",
        default=[],
        metavar="START:END",
        help="the muscle rests (noise only, recovery); repeatable",
    )
    emg.add_argument(
        "--mains",
        choices=("0", "50", "60"),
        default="0",
        metavar="50|60|0",
        help="mains hum frequency, 0 = none (default 0)",
    )
    emg.add_argument(
        "--mains-mv",
        type=_number(float),
        default=None,
        metavar="MV",
        help="mains amplitude (default 0.05 when --mains is set)",
    )
    emg.add_argument(
        "--motion",
        type=_number(float),
        default=0.0,
        metavar="PER_MIN",
        help="motion artefacts per minute (default 0)",
    )
    emg.add_argument(
        "--motion-mv",
        type=_number(float),
        default=1.0,
        metavar="MV",
        help="motion artefact amplitude (default 1)",
    )
    emg.add_argument(
        "--dropout",
        type=_dropout,
        action="append",
        default=[],
        metavar="START:END[:CH]",
        help="electrode off: the channel (1-based, default all) is flat; repeatable",
    )
    emg.add_argument(
        "--noise",
        type=_number(float),
        default=0.005,
        metavar="MV",
        help="white instrument noise RMS (default 0.005)",
    )

    acc = modality.add_parser(
        "acc",
        help="3-axis accelerometer in m/s^2",
        description="Wrist accelerometer: gravity, voluntary movement (0.1-3 Hz), physiological\n"
        "tremor at 8-12 Hz that grows after the onset (or a 4-6 Hz pathological tremor\n"
        "that ramps in), sensor noise.",
        epilog=_ACC_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(acc, 100.0, 120.0, "tremor onset in seconds (default: a third of the duration)")
    acc.add_argument(
        "--no-tremor",
        "--no-fatigue",
        dest="no_fatigue",
        action="store_true",
        help="no tremor onset",
    )
    acc.add_argument(
        "--ramp",
        type=_number(float),
        default=15.0,
        metavar="S",
        help="seconds over which the tremor grows (default 15)",
    )
    acc.add_argument(
        "--tremor-hz",
        type=_number(float),
        default=10.0,
        metavar="HZ",
        help="physiological tremor frequency (default 10)",
    )
    acc.add_argument(
        "--tremor-rms",
        type=_number(float),
        default=0.02,
        metavar="MS2",
        help="physiological tremor RMS before the onset (default 0.02)",
    )
    acc.add_argument(
        "--gain",
        type=_number(float),
        default=5.0,
        metavar="X",
        help="tremor amplitude factor after the onset (default 5)",
    )
    acc.add_argument(
        "--pathological",
        type=_number(float),
        default=None,
        metavar="HZ",
        help="instead, a pathological tremor at HZ (4-6) ramps in at the onset",
    )
    acc.add_argument(
        "--pathological-rms",
        type=_number(float),
        default=0.3,
        metavar="MS2",
        help="pathological tremor RMS (default 0.3)",
    )
    acc.add_argument(
        "--movement",
        type=_number(float),
        default=0.5,
        metavar="MS2",
        help="voluntary movement RMS, 0.1-3 Hz (default 0.5)",
    )
    acc.add_argument(
        "--noise",
        type=_number(float),
        default=0.005,
        metavar="MS2",
        help="sensor noise RMS per axis (default 0.005)",
    )
    acc.add_argument(
        "--wobble",
        type=_number(float),
        default=0.0,
        metavar="DEG",
        help="slow wobble of the gravity direction (default 0)",
    )

    sc = commands.add_parser(
        "scenarios",
        help="write a mixed, seeded set of recordings plus DIR/truth.json",
        description="Write N recordings (fatiguing and non-fatiguing EMG, accelerometers with\n"
        "and without tremor; mostly EDF, some CSV) and DIR/truth.json.\n"
        "--set classic: laboratory holds, one disturbance at a time (the default).\n"
        "--set field: sessions as recorded in the field (rests at both ends, intermittent\n"
        "and cyclic work, 200 Hz 8-bit armbands, ECG, electrode shifts, temperature drift;\n"
        "walking, writing and hammering wrists); params.kind names each condition.",
        epilog="examples:\n  fatigue-sim scenarios --n 60 --seed 7 -o bench/\n"
        "  fatigue-sim scenarios --set field --n 60 --seed 1 -o field1/\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sc.add_argument("--n", type=_int(1), default=60, metavar="N", help="recordings (60)")
    sc.add_argument("--seed", type=_int(0), default=0, metavar="S", help="set seed (0)")
    sc.add_argument(
        "--set",
        dest="set_name",
        choices=SETS,
        default="classic",
        help="which scenario set (classic)",
    )
    sc.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DIR",
        type=Path,
        help="directory to write (created if missing)",
    )
    mq = commands.add_parser(
        "mqtt",
        help="run virtual sensors that publish over MQTT",
        description="Run N virtual sensors publishing at their real sample rate on\n"
        "sensors/{id}/{emg|acc} (FMB1 or JSON payloads), e.g. to drive a monitor or a load test.",
        epilog=_MQTT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mq.add_argument("--broker", required=True, metavar="URL", help="mqtt://HOST:PORT")
    mq.add_argument(
        "--sensors",
        type=_int(1),
        metavar="N",
        help="sensors (4; with --from, copies of the recording, 1)",
    )
    mq.add_argument("--modality", choices=["emg", "acc", "mixed"], default="mixed", help="(mixed)")
    mq.add_argument("--format", choices=["fmb1", "json"], default="fmb1", help="payload (fmb1)")
    mq.add_argument(
        "--fatigue-at",
        type=_number(float, 0.0),
        metavar="S",
        help="every other sensor starts to fatigue (EMG) or tremble (ACC) at S seconds",
    )
    mq.add_argument(
        "--duration",
        type=_number(float, 1.0),
        default=120.0,
        metavar="S",
        help="seconds of signal to publish (120)",
    )
    mq.add_argument("--channels", type=_int(1), default=2, metavar="N", help="EMG channels (2)")
    mq.add_argument(
        "--rate",
        type=_number(float, 1.0),
        default=20.0,
        metavar="MSG_S",
        help="messages per second per sensor (20)",
    )
    mq.add_argument(
        "--speed", type=_number(float, 0.01), default=1.0, metavar="X", help="times real time (1)"
    )
    mq.add_argument(
        "--loop",
        action="store_true",
        help="repeat a 60 s signal for --duration (long load tests, little memory)",
    )
    mq.add_argument("--seed", type=_int(0), default=0, metavar="S", help="seed (0)")
    mq.add_argument(
        "--first",
        type=_int(1),
        default=1,
        metavar="K",
        help="number of the first sensor (1): emgK, ... (a second fleet beside a first)",
    )
    mq.add_argument(
        "--from",
        dest="recording",
        type=Path,
        metavar="RECORDING",
        help="publish a recorded file (CSV, EDF/BDF, WFDB, WAV, XDF, C3D, OpenSignals) instead "
        "of simulated signals; "
        "its streams become sensors/{file stem}/{emg|acc}",
    )
    mq.add_argument(
        "--fs",
        type=_number(float, 0.001),
        metavar="HZ",
        help="sample rate of a --from CSV without a time column",
    )
    add_csv_arguments(mq, channels_flag="--csv-channels")
    mq.add_argument(
        "--times-out",
        type=Path,
        metavar="FILE",
        help="write the wall time of every publishing step as JSON (load tests)",
    )
    bl = commands.add_parser(
        "ble",
        help="run a virtual BLE sensor (Polar H10, Myo, generic) on a bumble transport",
        description="Expose one virtual BLE sensor speaking the device's own protocol on a\n"
        "bumble transport (usb:0, serial:/dev/ttyACM0, vhci, ...), for a real phone or PC.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bl.add_argument("--device", choices=["polar-h10", "myo", "generic"], required=True)
    bl.add_argument("--transport", required=True, metavar="SPEC", help="bumble transport")
    bl.add_argument("--name", default="", help="advertised name (the device's usual one)")
    bl.add_argument("--address", default="F0:F0:F0:00:00:01", help="public address to use")
    bl.add_argument(
        "--duration",
        type=_number(float, 10.0),
        default=300.0,
        metavar="S",
        help="seconds of signal before it repeats (300)",
    )
    bl.add_argument(
        "--onset",
        type=_number(float, 0.0),
        metavar="S",
        help="fatigue (Myo, generic) or tremor (Polar) starts at S seconds",
    )
    bl.add_argument(
        "--speed", type=_number(float, 0.01), default=1.0, metavar="X", help="times real time (1)"
    )
    bl.add_argument("--seed", type=_int(0), default=0, metavar="S", help="seed (0)")
    bl.add_argument(
        "--from",
        dest="recording",
        type=Path,
        metavar="RECORDING",
        help="stream this recording (CSV, EDF/BDF, WFDB, WAV; looping) instead of the "
        "simulator; Polar: 3 acc channels at an H10 rate, Myo: 8 EMG channels at 200 Hz",
    )
    lt = commands.add_parser(
        "loadtest",
        help="measure a monitor under a fleet through mosquitto (loss, latency, rate, RSS)",
        add_help=False,
    )
    lt.add_argument("rest", nargs=argparse.REMAINDER)
    sk = commands.add_parser(
        "soak",
        help="healthy sensors beside a hostile publisher for minutes (delivery, RSS, log)",
        add_help=False,
    )
    sk.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


_MQTT_EPILOG = """\
examples:
  fatigue-sim mqtt --broker mqtt://127.0.0.1:1883 --sensors 6 --fatigue-at 60
      6 sensors (4 EMG, 2 ACC); half of each start to fatigue or tremble at 60 s
  fatigue-sim mqtt --broker mqtt://127.0.0.1:1883 --sensors 500 --modality emg \\
      --channels 8 --loop --duration 600
      a load test: 500 8-channel 2 kHz EMG sensors, 20 messages/s each, for 10 minutes
  fatigue-sim mqtt --broker mqtt://127.0.0.1:1883 --from session.edf
      a recorded session, published live at its own rate (sensors/session/emg, ...)
"""


def _mqtt(args: argparse.Namespace) -> int:
    import asyncio

    from monitor.core.broker_url import parse_broker
    from simulators.mqtt import publish_fleet, recorded_fleet, simulated_fleet
    from simulators.mqtt_qos0 import MqttPublishError, Qos0Publisher

    host, port, _ = parse_broker(args.broker, "--broker")
    if args.recording is not None:
        if args.fatigue_at is not None:
            raise ScenarioError("--fatigue-at", args.fatigue_at, "a recording has its own course")
        fleet = recorded_fleet(
            args.recording,
            copies=args.sensors or 1,
            modality=None if args.modality == "mixed" else args.modality,
            fs=args.fs,
            per_s=args.rate,
            fmt=args.format,
            loop=args.loop,
            csv=csv_options(args),
        )
        duration = args.duration if args.loop else None
    else:
        fleet = simulated_fleet(
            args.sensors or 4,
            args.modality,
            args.fatigue_at,
            duration_s=min(args.duration, 60.0) if args.loop else args.duration,
            emg_channels=args.channels,
            per_s=args.rate,
            fmt=args.format,
            seed=args.seed,
            loop=args.loop,
            first=args.first,
        )
        duration = args.duration if args.loop else None
    print(
        f"{PROG}: {len(fleet)} sensors ({', '.join(s.sensor for s in fleet[:6])}"
        f"{', ...' if len(fleet) > 6 else ''}) -> mqtt://{host}:{port}",
        file=sys.stderr,
        flush=True,
    )

    step_times: list[float] = []

    async def run() -> int:
        async with Qos0Publisher(host, port, f"fatigue-sim-{args.seed}-{args.first}") as client:
            return await publish_fleet(client, fleet, args.speed, duration, step_times)

    try:
        sent = asyncio.run(run())
    except MqttPublishError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    print(f"{PROG}: published {sent} messages", file=sys.stderr)
    if args.times_out is not None:
        interval = min(v.interval_s for v in fleet)
        args.times_out.write_text(json.dumps({"interval_s": interval, "times": step_times}))
    return 0


def _onset(args: argparse.Namespace) -> float | None:
    if args.no_fatigue:
        if args.onset is not None:
            raise ScenarioError("onset_s", args.onset, "cannot be combined with --no-fatigue")
        return None
    if args.onset is None:
        return round(float(args.duration) / 3.0, 1)
    return float(args.onset)


def _emg_scenario(args: argparse.Namespace) -> EmgScenario:
    mains_on = float(args.mains) > 0.0
    mains_mv = args.mains_mv if args.mains_mv is not None else (0.05 if mains_on else 0.0)
    return EmgScenario(
        fs=args.fs,
        n_channels=args.channels,
        duration_s=args.duration,
        mdf0_hz=args.mdf0,
        rms0_mv=args.rms,
        onset_s=_onset(args),
        decline_per_min=args.decline,
        mdf_floor=args.floor,
        rms_gain=args.rms_gain,
        recovery_tau_s=args.recovery_tau,
        force_steps=tuple(args.force),
        rests=tuple(args.rest),
        mains_hz=float(args.mains),
        mains_mv=mains_mv,
        motion_per_min=args.motion,
        motion_mv=args.motion_mv,
        dropouts=tuple(args.dropout),
        noise_mv=args.noise,
    )


def _acc_scenario(args: argparse.Namespace) -> AccScenario:
    return AccScenario(
        fs=args.fs,
        duration_s=args.duration,
        onset_s=_onset(args),
        ramp_s=args.ramp,
        tremor_hz=args.tremor_hz,
        tremor_rms0=args.tremor_rms,
        tremor_gain=args.gain,
        pathological_hz=args.pathological,
        pathological_rms=args.pathological_rms,
        movement_rms=args.movement,
        noise_rms=args.noise,
        gravity_wobble_deg=args.wobble,
    )


def _progress(total: int, unit: str, enabled: bool) -> AbstractContextManager[Any]:
    if not enabled:
        return nullcontext(None)
    from tqdm import tqdm

    bar: AbstractContextManager[Any] = tqdm(
        total=total, unit=unit, unit_scale=True, file=sys.stderr, leave=False, dynamic_ncols=True
    )
    return bar


def _generate(args: argparse.Namespace) -> int:
    path: Path = args.output
    format_for(path)
    scenario = _emg_scenario(args) if args.modality == "emg" else _acc_scenario(args)
    rng = np.random.default_rng(args.seed)
    gen: Simulation = (
        EmgGenerator(scenario, rng)
        if isinstance(scenario, EmgScenario)
        else AccGenerator(scenario, rng)
    )
    big = gen.n_samples * gen.n_channels >= PROGRESS_MIN_VALUES
    path.parent.mkdir(parents=True, exist_ok=True)
    with _progress(gen.n_samples, "sample", big and sys.stderr.isatty()) as bar:
        truth = record(gen, path, seed=args.seed, on_progress=None if bar is None else bar.update)
    print(_summary(path, truth))
    return 0


def _summary(path: Path, t: RecordingTruth) -> str:
    what = (
        "no onset"
        if t.onset_s is None
        else f"{'fatigue' if t.modality == 'emg' else 'tremor'} onset at {t.onset_s:g} s"
    )
    extra = f", {t.clipped_samples} values clipped" if t.clipped_samples else ""
    extra += f", {t.padded_samples} samples of padding" if t.padded_samples else ""
    return (
        f"wrote {path} ({t.modality}, {len(t.channels)} ch, {t.fs:g} Hz, "
        f"{t.duration_s:g} s, {what}{extra}) and {sidecar_path(path)}"
    )


def _scenarios(args: argparse.Namespace) -> int:
    out: Path = args.output
    with _progress(args.n, "file", sys.stderr.isatty()) as bar:

        def tick(i: int, plan: PlannedRecording) -> None:
            if bar is not None:
                bar.set_postfix_str(plan.file, refresh=False)
                bar.update(1)

        truth_set = make_scenarios(
            args.n, args.seed, out, on_recording=tick, set_name=args.set_name
        )
    onsets = sum(r.onset_s is not None for r in truth_set.recordings)
    print(
        f"wrote {len(truth_set.recordings)} recordings ({onsets} with an onset) "
        f"and {out / 'truth.json'}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["loadtest"]:  # its own parser, options and --help
        from simulators.loadtest import main as loadtest_main

        return loadtest_main(args_list[1:])
    if args_list[:1] == ["soak"]:
        from simulators.soak import main as soak_main

        return soak_main(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        if args.command == "generate":
            return _generate(args)
        if args.command == "mqtt":
            return _mqtt(args)
        if args.command == "ble":
            from simulators.ble.run import run as run_ble

            return run_ble(args)
        if args.command == "loadtest":
            from simulators.loadtest import main as loadtest_main

            return loadtest_main(list(args.rest))
        return _scenarios(args)
    except MonitorError as exc:
        if not isinstance(exc, ScenarioError | UnknownFormatError):
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 2
        return _scenario_error(exc)
    except OSError as exc:
        print(
            f"{PROG}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _scenario_error(exc: ScenarioError | UnknownFormatError) -> int:
    name = getattr(exc, "name", None)
    if isinstance(exc, ScenarioError) and name in _FLAGS:
        msg = f"{_FLAGS[name]} {exc.value!r}: {exc.expected}"
    else:
        msg = str(exc)
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
