"""Kinematics of a stick body performing one action class, and the readings of body-worn sensors.

World frame: x = the subject's left, y = up, z = the subject's forward (toward the camera), metres.
A class is a `MotionSpec`: each effector (right/left wrist, right/left ankle, pelvis root, torso
lean) leaves its rest pose for a ready pose and oscillates there along given directions; limbs
follow their effector by two-link inverse kinematics, so every joint is a smooth function of time.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GRAVITY = 9.80665
JOINTS = (
    "pelvis", "neck", "head",
    "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle",
)
JOINT_INDEX = {name: i for i, name in enumerate(JOINTS)}
EFFECTORS = ("rwrist", "lwrist", "rankle", "lankle", "root", "lean")
WAVEFORMS = ("sine", "bump", "pulse", "tri", "swing")


@dataclass(frozen=True)
class Oscillation:
    """offset(t) = amplitude * direction * waveform(freq * tau + phase), tau = active time in s."""

    direction: tuple[float, float, float]
    amplitude: float
    freq: float
    waveform: str = "sine"
    phase: float = 0.0


@dataclass(frozen=True)
class EffectorMotion:
    """ready: offset from the rest pose held while active (radians for 'lean', first component)."""

    ready: tuple[float, float, float] = (0.0, 0.0, 0.0)
    oscillations: tuple[Oscillation, ...] = ()


@dataclass(frozen=True)
class MotionSpec:
    name: str
    effectors: dict[str, EffectorMotion] = field(default_factory=dict)
    active_s: float = 2.5


@dataclass(frozen=True)
class Body:
    """Segment lengths in metres (scaled per subject)."""

    scale: float = 1.0

    @property
    def pelvis_height(self) -> float:
        return 0.95 * self.scale

    @property
    def upper_arm(self) -> float:
        return 0.30 * self.scale

    @property
    def forearm(self) -> float:
        return 0.27 * self.scale

    @property
    def thigh(self) -> float:
        return 0.45 * self.scale

    @property
    def shank(self) -> float:
        return 0.44 * self.scale


@dataclass(frozen=True)
class TakeParams:
    """One performance: active window [start, start + active] in s, speed and amplitude factors."""

    start: float
    active: float
    duration: float
    speed: float
    amplitude: float
    phase: float


def _waveform(name: str, x: np.ndarray) -> np.ndarray:
    """Periodic shapes of period 1 in [-1, 1] (bump and pulse in [0, 1]), all C2-smooth."""
    s = 2 * np.pi * x
    if name == "sine":
        return np.sin(s)
    if name == "bump":
        return 0.5 - 0.5 * np.cos(s)
    if name == "pulse":
        return (0.5 - 0.5 * np.cos(s)) ** 3
    if name == "tri":
        return np.sin(s) - np.sin(3 * s) / 9 + np.sin(5 * s) / 25
    if name == "swing":
        return np.sin(s + 0.6 * np.sin(s))
    raise ValueError(f"unknown waveform {name!r}; expected one of {WAVEFORMS}")


def _smootherstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (x * (6 * x - 15) + 10)


def envelope(t: np.ndarray, take: TakeParams, ramp: float = 0.4) -> np.ndarray:
    """0 at rest, 1 while active; quintic ramps with zero velocity and acceleration at both ends."""
    rise = _smootherstep((t - take.start) / ramp)
    fall = 1.0 - _smootherstep((t - (take.start + take.active - ramp)) / ramp)
    return rise * fall


def effector_offsets(spec: MotionSpec, take: TakeParams, t: np.ndarray) -> dict[str, np.ndarray]:
    """Effector name -> (T, 3) offset from the rest pose at times t (s).

    offset = env * (ready + sum of oscillations); a raised hand also passes along an arc in front of
    the body (forward bulge 4 env (1 - env)), never through the shoulder.
    """
    env = envelope(t, take)
    tau = (t - take.start) * take.speed
    out = {}
    for name in EFFECTORS:
        motion = spec.effectors.get(name)
        offset = np.zeros((t.size, 3))
        if motion is not None:
            ready = np.asarray(motion.ready) * take.amplitude
            offset += ready
            for osc in motion.oscillations:
                wave = _waveform(osc.waveform, osc.freq * tau + osc.phase + take.phase)
                offset += osc.amplitude * take.amplitude * wave[:, None] * np.asarray(osc.direction)
            offset *= env[:, None]
            if name in ("rwrist", "lwrist"):
                offset[:, 2] += 0.4 * np.linalg.norm(ready) * 4 * env * (1 - env)
        out[name] = offset
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _soft_clip(x: np.ndarray, lo: float, hi: float, knee: float = 0.25) -> np.ndarray:
    """Smooth (C-infinity) saturation of x into [lo, hi]; identity in the middle of the range."""
    width = knee * (hi - lo)
    upper, lower = hi - width, lo + width
    x = np.where(x > upper, upper + width * np.tanh((x - upper) / width), x)
    return np.where(x < lower, lower - width * np.tanh((lower - x) / width), x)


def two_link_ik(root: np.ndarray, target: np.ndarray, l1: float, l2: float, pole: np.ndarray):
    """Middle and end joints (T, 3) of a chain root-l1-l2 reaching toward target, bending toward pole.

    Also returns the bend-plane normal (T, 3), used to build smooth segment frames.
    """
    reach = target - root
    dist = np.linalg.norm(reach, axis=-1, keepdims=True)
    u = reach / np.maximum(dist, 1e-9)
    d = _soft_clip(dist, 0.35 * (l1 + l2), 0.97 * (l1 + l2))
    a = (l1 * l1 - l2 * l2 + d * d) / (2 * d)
    h = np.sqrt(np.maximum(l1 * l1 - a * a, 0.0))
    p = _unit(pole - np.sum(pole * u, axis=-1, keepdims=True) * u)
    middle = root + a * u + h * p
    end = root + d * u
    return middle, end, _unit(np.cross(u, p))


def _lean_rotation(angle: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotation about the x axis tilting +y toward +z by `angle` rad."""
    c, s = np.cos(angle), np.sin(angle)
    rot = np.zeros(angle.shape + (3, 3))
    rot[..., 0, 0] = 1
    rot[..., 1, 1] = c
    rot[..., 1, 2] = -s
    rot[..., 2, 1] = s
    rot[..., 2, 2] = c
    return rot


@dataclass(frozen=True)
class Pose:
    """joints: (T, J, 3) positions; frames: segment name -> (T, 3, 3) rotation, columns = axes in world."""

    joints: np.ndarray
    frames: dict[str, np.ndarray]


def pose_at(spec: MotionSpec, take: TakeParams, body: Body, t: np.ndarray) -> Pose:
    """Joint positions and segment frames at times t (T,)."""
    t = np.asarray(t, dtype=np.float64)
    off = effector_offsets(spec, take, t)
    n = t.size
    s = body.scale
    pelvis = np.array([0.0, body.pelvis_height, 0.0]) + off["root"]
    lean = _lean_rotation(off["lean"][:, 0])
    joints = np.zeros((n, len(JOINTS), 3))
    joints[:, JOINT_INDEX["pelvis"]] = pelvis
    joints[:, JOINT_INDEX["neck"]] = pelvis + lean @ np.array([0.0, 0.52 * s, 0.0])
    joints[:, JOINT_INDEX["head"]] = pelvis + lean @ np.array([0.0, 0.72 * s, 0.0])
    frames = {"pelvis": lean}
    for side, sign in (("r", -1.0), ("l", 1.0)):
        shoulder = pelvis + lean @ np.array([sign * 0.19 * s, 0.50 * s, 0.0])
        wrist_rest = np.array([sign * 0.04 * s, -0.54 * s, 0.06 * s])
        target = shoulder + wrist_rest + off[f"{side}wrist"] * s
        pole = np.broadcast_to(np.array([sign * 0.7, -1.0, -0.4]), target.shape)
        elbow, wrist, normal = two_link_ik(shoulder, target, body.upper_arm, body.forearm, pole)
        joints[:, JOINT_INDEX[f"{side}_shoulder"]] = shoulder
        joints[:, JOINT_INDEX[f"{side}_elbow"]] = elbow
        joints[:, JOINT_INDEX[f"{side}_wrist"]] = wrist
        frames[f"{side}_forearm"] = _segment_frame(wrist - elbow, normal)

        hip = pelvis + np.array([sign * 0.10 * s, 0.0, 0.0])
        ankle_rest = np.array([sign * 0.11 * s, body.pelvis_height - body.thigh - body.shank + 0.02 * s, 0.0])
        horizontal = off["root"] * np.array([1.0, 0.0, 1.0])
        ankle_target = ankle_rest + horizontal + off[f"{side}ankle"] * s
        pole = np.broadcast_to(np.array([0.0, 0.2, 1.0]), ankle_target.shape)
        knee, ankle, normal = two_link_ik(hip, ankle_target, body.thigh, body.shank, pole)
        joints[:, JOINT_INDEX[f"{side}_hip"]] = hip
        joints[:, JOINT_INDEX[f"{side}_knee"]] = knee
        joints[:, JOINT_INDEX[f"{side}_ankle"]] = ankle
        frames[f"{side}_thigh"] = _segment_frame(knee - hip, normal)
        frames[f"{side}_shank"] = _segment_frame(ankle - knee, normal)
    return Pose(joints, frames)


def _segment_frame(axis: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """(T, 3, 3): x along the segment, y the bend-plane normal, z = x cross y."""
    x = _unit(axis)
    y = _unit(normal - np.sum(normal * x, axis=-1, keepdims=True) * x)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


@dataclass(frozen=True)
class SensorSite:
    """A sensor rigidly attached to a segment: joints interpolated at `along`, axes permuted by `axes`.

    `axes` (3, 3) maps segment-frame coordinates to sensor coordinates (rows = sensor axes).
    """

    segment: str
    start_joint: str
    end_joint: str
    along: float
    axes: tuple[tuple[float, float, float], ...] = ((1, 0, 0), (0, 1, 0), (0, 0, 1))


SITES = {
    "right_wrist": SensorSite("r_forearm", "r_elbow", "r_wrist", 0.9),
    "left_wrist": SensorSite("l_forearm", "l_elbow", "l_wrist", 0.9),
    "right_thigh": SensorSite("r_thigh", "r_hip", "r_knee", 0.5),
    "right_hip": SensorSite("pelvis", "r_hip", "r_hip", 0.0, ((0, 1, 0), (1, 0, 0), (0, 0, -1))),
    "left_hip": SensorSite("pelvis", "l_hip", "l_hip", 0.0, ((0, 1, 0), (1, 0, 0), (0, 0, -1))),
    "right_ankle": SensorSite("r_shank", "r_knee", "r_ankle", 0.85),
    "left_ankle": SensorSite("l_shank", "l_knee", "l_ankle", 0.85),
    # phone upright in the right trouser pocket: its y axis points down the thigh, z outward
    "right_pocket": SensorSite("r_thigh", "r_hip", "r_knee", 0.35, ((0, -1, 0), (1, 0, 0), (0, 0, 1))),
}


@dataclass(frozen=True)
class SensorReadings:
    """acc: (T, 3) specific force in m/s^2; gyro: (T, 3) rad/s; rotation: (T, 3, 3) sensor axes in world."""

    acc: np.ndarray
    gyro: np.ndarray
    rotation: np.ndarray


def _site_state(spec: MotionSpec, take: TakeParams, body: Body, site: SensorSite, t: np.ndarray):
    pose = pose_at(spec, take, body, t)
    a = pose.joints[:, JOINT_INDEX[site.start_joint]]
    b = pose.joints[:, JOINT_INDEX[site.end_joint]]
    rotation = pose.frames[site.segment] @ np.asarray(site.axes, dtype=np.float64).T
    return a + site.along * (b - a), rotation


def sensor_readings(spec: MotionSpec, take: TakeParams, body: Body, site: str, t: np.ndarray,
                    h: float = 2e-3) -> SensorReadings:
    """Accelerometer f = R^T (p'' + g e_y) and gyroscope w = vee(R^T R') by central differences."""
    where = SITES[site]
    t = np.asarray(t, dtype=np.float64)
    p_minus, r_minus = _site_state(spec, take, body, where, t - h)
    p_zero, r_zero = _site_state(spec, take, body, where, t)
    p_plus, r_plus = _site_state(spec, take, body, where, t + h)
    accel = (p_plus - 2 * p_zero + p_minus) / (h * h)
    accel[:, 1] += GRAVITY
    acc = np.einsum("tji,tj->ti", r_zero, accel)
    omega = np.einsum("tki,tkj->tij", r_zero, (r_plus - r_minus) / (2 * h))
    gyro = np.stack([omega[:, 2, 1] - omega[:, 1, 2], omega[:, 0, 2] - omega[:, 2, 0],
                     omega[:, 1, 0] - omega[:, 0, 1]], axis=-1) / 2
    return SensorReadings(acc, gyro, r_zero)


def orientation_degrees(rotation: np.ndarray) -> np.ndarray:
    """(T, 3) azimuth [0, 360), pitch (-180, 180], roll [-90, 90] of a device (legacy Android convention).

    The device rotation is first expressed in East-North-Up (east = world x, north = -world z).
    """
    to_enu = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
    r = to_enu @ rotation
    azimuth = np.degrees(np.arctan2(r[:, 0, 1], r[:, 1, 1])) % 360.0
    pitch = np.degrees(np.arctan2(-r[:, 2, 1], r[:, 2, 2]))
    roll = np.degrees(np.arcsin(np.clip(r[:, 2, 0], -1.0, 1.0)))
    return np.stack([azimuth, pitch, roll], axis=-1)


def _osc(direction, amplitude, freq, waveform="sine", phase=0.0) -> Oscillation:
    return Oscillation(tuple(float(v) for v in direction), float(amplitude), float(freq), waveform, float(phase))


def _eff(ready=(0.0, 0.0, 0.0), *oscillations: Oscillation) -> EffectorMotion:
    return EffectorMotion(tuple(float(v) for v in ready), tuple(oscillations))


X, Y, Z = (1, 0, 0), (0, 1, 0), (0, 0, 1)
FRONT = (0.12, 0.40, 0.40)  # right wrist in front of the chest, offset from its rest pose
LFRONT = (-0.12, 0.40, 0.40)
UP = (0.06, 0.85, 0.15)
LUP = (-0.06, 0.85, 0.15)


def _jog(freq: float, lift: float, bob: float, forward: float = 0.0) -> dict[str, EffectorMotion]:
    return {
        "rankle": _eff((0, 0, 0), _osc((0, 1, 0.4), lift, freq, "bump")),
        "lankle": _eff((0, 0, 0), _osc((0, 1, 0.4), lift, freq, "bump", 0.5)),
        "root": _eff((0, 0, 0), _osc(Y, bob, 2 * freq, "bump"), _osc(Z, forward, 0.25, "sine")),
        "rwrist": _eff((0, 0.05, 0.05), _osc(Z, 0.06, freq, "sine", 0.5)),
        "lwrist": _eff((0, 0.05, 0.05), _osc(Z, 0.06, freq, "sine")),
    }


def _both(ready, *osc: Oscillation, mirror_x: bool = True) -> dict[str, EffectorMotion]:
    lready = (-ready[0], ready[1], ready[2]) if mirror_x else ready
    losc = tuple(Oscillation((-o.direction[0], o.direction[1], o.direction[2]) if mirror_x else o.direction,
                             o.amplitude, o.freq, o.waveform, o.phase) for o in osc)
    return {"rwrist": _eff(ready, *osc), "lwrist": _eff(lready, *losc)}


MOTIONS: dict[str, MotionSpec] = {m.name: m for m in (
    MotionSpec("swipe_left", {"rwrist": _eff((0.0, 0.40, 0.40), _osc(X, 0.28, 0.8, "swing"))}),
    MotionSpec("swipe_right", {"rwrist": _eff((0.3, 0.40, 0.40), _osc(X, -0.28, 0.8, "swing"))}),
    MotionSpec("wave", {"rwrist": _eff(UP, _osc(X, 0.14, 2.0))}),
    MotionSpec("clap", _both((0.17, 0.35, 0.40), _osc((-1, 0, 0), 0.16, 1.6, "bump"))),
    MotionSpec("throw", {"rwrist": _eff((0.05, 0.6, 0.1), _osc((0.05, -0.4, 1), 0.4, 0.7, "pulse"))}),
    MotionSpec("cross_arms", _both((0.32, 0.45, 0.15), _osc(Y, 0.03, 0.5))),
    MotionSpec("basketball_shoot", _both((0.12, 0.55, 0.3), _osc((0, 1, 0.3), 0.3, 0.8, "pulse"))),
    MotionSpec("draw_x", {"rwrist": _eff(FRONT, _osc(X, 0.15, 0.8, "tri"), _osc(Y, 0.15, 1.6, "tri"))}),
    MotionSpec("circle_cw", {"rwrist": _eff(FRONT, _osc(X, 0.15, 1.0), _osc(Y, 0.15, 1.0, "sine", 0.25))}),
    MotionSpec("circle_ccw", {"rwrist": _eff(FRONT, _osc(X, 0.15, 1.0), _osc(Y, 0.15, 1.0, "sine", -0.25))}),
    MotionSpec("triangle", {"rwrist": _eff(FRONT, _osc(X, 0.15, 0.8, "tri"), _osc(Y, 0.12, 0.8, "tri", 0.25),
                                           _osc(Y, 0.05, 2.4, "sine"))}),
    MotionSpec("bowling", {"rwrist": _eff((0.0, 0.1, 0.1), _osc((0, 0.3, 1), 0.45, 0.6, "swing")),
                           "root": _eff((0, -0.08, 0))}),
    MotionSpec("boxing", {"rwrist": _eff(FRONT, _osc(Z, 0.3, 1.0, "pulse")),
                          "lwrist": _eff(LFRONT, _osc(Z, 0.3, 1.0, "pulse", 0.5))}),
    MotionSpec("baseball_swing", _both((0.15, 0.45, 0.3), _osc(X, 0.35, 0.6, "swing"), _osc(Z, 0.15, 1.2, "bump"),
                                       mirror_x=False)),
    MotionSpec("forehand", {"rwrist": _eff((0.0, 0.3, 0.2), _osc(X, 0.4, 0.7, "swing"), _osc(Z, 0.2, 1.4, "bump"))}),
    MotionSpec("arm_curl", _both((0.0, 0.05, 0.25), _osc((0, 1, -0.4), 0.3, 1.0, "bump"))),
    MotionSpec("tennis_serve", {"rwrist": _eff(UP, _osc((0, -0.6, 1), 0.35, 0.7, "pulse"))}),
    MotionSpec("two_hand_push", _both((0.1, 0.45, 0.2), _osc(Z, 0.3, 1.0, "bump"))),
    MotionSpec("knock", {"rwrist": _eff((0.1, 0.6, 0.35), _osc(Z, 0.06, 3.0, "pulse"))}),
    MotionSpec("catch", {"rwrist": _eff((0.05, 0.55, 0.45), _osc((0, 0.3, -1), 0.25, 0.8, "pulse"))}),
    MotionSpec("pick_up_throw", {"rwrist": _eff((0.0, 0.2, 0.3), _osc((0, -1, 0.2), 0.3, 0.6, "swing")),
                                 "root": _eff((0, -0.1, 0), _osc(Y, 0.08, 0.6, "swing"))}),
    MotionSpec("jogging", _jog(1.6, 0.22, 0.04)),
    MotionSpec("walking", _jog(0.9, 0.10, 0.02)),
    MotionSpec("sit_to_stand", {"root": _eff((0, -0.2, -0.1), _osc((0, 1, 0.4), 0.22, 0.25, "sine", -0.25)),
                                "lean": _eff((0.25, 0, 0), _osc(X, 0.25, 0.5, "bump"))}),
    MotionSpec("stand_to_sit", {"root": _eff((0, -0.2, -0.1), _osc((0, 1, 0.4), 0.22, 0.25, "sine", 0.25)),
                                "lean": _eff((0.25, 0, 0), _osc(X, 0.25, 0.5, "bump"))}),
    MotionSpec("lunge", {"lankle": _eff((0, 0, 0.15), _osc((0, 0.1, 1), 0.25, 0.5, "bump")),
                         "root": _eff((0, -0.05, 0.05), _osc(Y, -0.15, 0.5, "bump"))}),
    MotionSpec("squat", {"root": _eff((0, -0.05, -0.05), _osc(Y, -0.3, 0.7, "bump")),
                         **_both((0.15, 0.55, 0.45))}),
    MotionSpec("jumping", {"root": _eff((0, 0, 0), _osc(Y, 0.15, 1.6, "pulse")), **_both((0.0, 0.1, 0.05))}),
    MotionSpec("jumping_jacks", {"root": _eff((0, 0, 0), _osc(Y, 0.1, 2.0, "pulse")),
                                 **_both((-0.2, 0.2, 0.0), _osc((-0.6, 1, 0), 0.45, 1.0, "bump")),
                                 "rankle": _eff((0, 0, 0), _osc((-1, 0, 0), 0.15, 1.0, "bump")),
                                 "lankle": _eff((0, 0, 0), _osc((1, 0, 0), 0.15, 1.0, "bump"))}),
    MotionSpec("bending", {"lean": _eff((0.3, 0, 0), _osc(X, 0.6, 0.4, "bump")),
                           "root": _eff((0, 0, -0.1), _osc((0, -0.3, -1), 0.1, 0.4, "bump")),
                           **_both((0.0, 0.9, 0.1), _osc((0, -1, 0.5), 0.8, 0.4, "bump"))}, active_s=4.0),
    MotionSpec("wave_two_hands", _both((-0.05, 0.85, 0.15), _osc(X, 0.14, 1.8))),
    MotionSpec("sit_down_stand_up", {"root": _eff((0, 0, -0.05), _osc((0, -1, -0.4), 0.45, 0.3, "bump")),
                                     "lean": _eff((0.1, 0, 0), _osc(X, 0.3, 0.6, "bump"))}, active_s=3.5),
    MotionSpec("checking_time", {"rwrist": _eff((0.25, 0.55, 0.35), _osc((0, 0.3, -1), 0.03, 0.7))}),
    MotionSpec("crouching", {"root": _eff((0, -0.4, -0.1), _osc(Y, 0.03, 0.5)),
                             "lean": _eff((0.4, 0, 0))}),
    MotionSpec("drinking", {"rwrist": _eff((0.15, 0.75, 0.3), _osc((0, -1, 0.3), 0.25, 0.6, "bump"))}),
    MotionSpec("kicking", {"rankle": _eff((0, 0.05, 0.0), _osc((0, 0.6, 1), 0.5, 0.7, "pulse")),
                           "root": _eff((0, 0, -0.05))}),
    MotionSpec("running", _jog(2.4, 0.3, 0.06, 0.2)),
    MotionSpec("talking_on_phone", {"rwrist": _eff((0.1, 0.95, 0.1), _osc(X, 0.02, 0.4))}),
    MotionSpec("pointing", {"rwrist": _eff((0.05, 0.65, 0.5), _osc(X, 0.1, 0.3))}),
    MotionSpec("fall", {"root": _eff((0, -0.5, 0.15)), "lean": _eff((0.9, 0, 0))}, active_s=3.0),
    MotionSpec("pulling", _both((0.1, 0.45, 0.45), _osc(Z, -0.25, 0.8, "pulse"))),
    MotionSpec("using_pc", _both((0.1, 0.3, 0.4), _osc(Y, 0.02, 4.0), _osc(X, 0.03, 1.1))),
)}

LAYOUT_MOTIONS: dict[str, tuple[str | None, ...]] = {
    "utd-mhad": (
        "swipe_left", "swipe_right", "wave", "clap", "throw", "cross_arms", "basketball_shoot", "draw_x",
        "circle_cw", "circle_ccw", "triangle", "bowling", "boxing", "baseball_swing", "forehand", "arm_curl",
        "tennis_serve", "two_hand_push", "knock", "catch", "pick_up_throw", "jogging", "walking",
        "sit_to_stand", "stand_to_sit", "lunge", "squat",
    ),
    "berkeley-mhad": (
        "jumping", "jumping_jacks", "bending", "boxing", "wave_two_hands", "wave", "clap", "throw",
        "sit_down_stand_up", "stand_to_sit", "sit_to_stand",
    ),
    "mmact": (
        None, None, None, "checking_time", None, "crouching", "drinking", None, None, "fall",
        "jumping", "kicking", None, None, None, "pick_up_throw", None, None, "pointing", "pulling",
        "two_hand_push", "running", None, "stand_to_sit", None, None, "sit_to_stand", None,
        "talking_on_phone", "throw", None, "using_pc", None, "walking", "wave",
    ),
}


def procedural_motion(label: int) -> MotionSpec:
    """A distinct deterministic motion for an unmodelled class: effector, direction, frequency, waveform."""
    effector = ("rwrist", "lwrist", "rankle", "root")[label % 4]
    direction = (X, Y, Z, (1, 1, 0), (0, 1, 1), (1, 0, 1))[(label // 4) % 6]
    waveform = WAVEFORMS[(label // 3) % len(WAVEFORMS)]
    freq = 0.6 + 0.35 * (label % 5)
    if effector in ("rwrist", "lwrist"):
        ready = (0.1 if effector == "rwrist" else -0.1, 0.3 + 0.1 * (label % 3), 0.3)
        amplitude = 0.15
    elif effector == "rankle":
        ready, amplitude = (0.0, 0.05, 0.05), 0.15
    else:
        ready, amplitude = (0.0, -0.05, 0.0), 0.06
    return MotionSpec(f"procedural_{label}", {effector: _eff(ready, _osc(direction, amplitude, freq, waveform))})


def motion_for(layout: str, label: int) -> MotionSpec:
    """The motion of class `label` (0-based) in `layout`."""
    names = LAYOUT_MOTIONS[layout]
    if not 0 <= label < len(names):
        raise ValueError(f"class label {label} out of range for {layout} (0..{len(names) - 1})")
    name = names[label]
    if name is None:
        return procedural_motion(label)
    return MOTIONS[name]
