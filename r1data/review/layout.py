"""The Label Studio labeling config, derived from a corpus's record schema.

Each schema field becomes one thing in the review screen, by its type and role:

=========================================  ==========================================
field                                      in Label Studio
=========================================  ==========================================
``image`` / ``list<image>``                ``<Image>`` (one per view; the first, large and
                                           zoomable, is the one boxes, points and masks
                                           are drawn on; the others small, in a row)
``video``                                  ``<Video>`` (frame rate from the task's
                                           ``r1data_fps``)
``list<struct<start, end, ...strings>>``    ``<TimelineLabels>`` on the video, one region
(seconds) when the schema has a video       per span (seconds <-> frames), and a
                                           per-region ``<TextArea>`` for each string member
``box2d`` / ``list<box2d>``                ``<RectangleLabels>`` (pixels <-> percent)
``point2d`` / ``points2d``                 ``<KeyPointLabels>`` (order kept)
``mask`` / ``list<mask>``                  ``<BrushLabels>`` (PNG <-> brush RLE)
string with a role (question, answer...)   editable ``<TextArea>``
``list<string>`` with a role               ``<TextArea>``, one line per item
``box3d`` / ``point3d`` / other typed      ``<TextArea>`` holding JSON
fields with a role
other strings, ``list<string>`` without    read-only ``<Text>`` (context; a list one
a role                                     item a line)
=========================================  ==========================================

Fields that are neither (a scene graph, a point cloud) are not shown. The reviewer's
verdict is a required ``<Choices name="r1data_verdict">``: accept, reject or fixed.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

from r1data.review.spans import FPS_KEY, span_members, text_control
from r1data.schema import Field, FieldType, RecordSchema, parse_type

VERDICT = "r1data_verdict"
VERDICTS = ("accept", "reject", "fixed")
ID_KEY = "r1data_id"          # task data key holding the row id (idempotent pushes, pulls)
MAX_VIEWS = 8                 # at most this many images of a list<image> are shown

# control kinds: how a field's value travels to and from Label Studio
RECTANGLES, KEYPOINTS, BRUSH, TEXT, TEXT_LINES, JSON_TEXT, SPANS = (
    "rectangles", "keypoints", "brush", "text", "text_lines", "json", "spans")
CONTROL_TAGS = {RECTANGLES: "RectangleLabels", KEYPOINTS: "KeyPointLabels", BRUSH: "BrushLabels",
                TEXT: "TextArea", TEXT_LINES: "TextArea", JSON_TEXT: "TextArea", SPANS: "TimelineLabels"}
RESULT_TYPES = {RECTANGLES: "rectanglelabels", KEYPOINTS: "keypointlabels", BRUSH: "brushlabels",
                TEXT: "textarea", TEXT_LINES: "textarea", JSON_TEXT: "textarea", SPANS: "timelinelabels"}


@dataclass(frozen=True)
class Control:
    """One editable field: ``name`` is both the schema field and the control's name."""

    name: str
    kind: str
    multiple: bool          # a list of boxes / points / masks (``False``: exactly one)
    type: FieldType
    required: bool
    texts: tuple[str, ...] = ()   # SPANS: the struct's string members (per-region TextAreas)

    @property
    def tag(self) -> str:
        return CONTROL_TAGS[self.kind]


@dataclass(frozen=True)
class MediaObject:
    """An ``<Image>`` or ``<Video>``: ``key`` is its name and its task data key."""

    key: str
    field: str
    index: int | None       # position in a list<image>, None for a single image
    tag: str                # Image | Video


@dataclass(frozen=True)
class ReviewLayout:
    schema: RecordSchema
    media: tuple[MediaObject, ...]
    context: tuple[str, ...]               # read-only string fields
    controls: tuple[Control, ...]
    draw_on: str                           # the object tag controls attach to
    fps_field: str | None = None           # the row's frame-rate field (spans: seconds <-> frames)
    _by_name: dict = field(default_factory=dict, compare=False, repr=False)

    def control(self, name: str) -> Control:
        if not self._by_name:
            self._by_name.update({c.name: c for c in self.controls})
        return self._by_name[name]

    @property
    def video(self) -> str | None:
        """Key of the ``<Video>`` time spans are drawn on (``None`` without a video)."""
        return next((m.key for m in self.media if m.tag == "Video"), None)

    @property
    def spans(self) -> tuple[Control, ...]:
        return tuple(c for c in self.controls if c.kind == SPANS)

    @property
    def geometry(self) -> tuple[Control, ...]:
        return tuple(c for c in self.controls if c.kind in (RECTANGLES, KEYPOINTS, BRUSH))

    def label_config(self) -> str:
        """The ``<View>`` XML for Label Studio (stable: same schema, same text)."""
        out = ["<View>", '  <Header value="Row" size="6"/>', f'  <Text name="{ID_KEY}" value="${ID_KEY}"/>']
        # the image drawn on: large and zoomable; a video with its timeline; further views
        # of the scene small, in a row
        views = [m for m in self.media if m.tag == "Image" and m.key != self.draw_on]
        for m in self.media:
            if m.tag == "Video":
                out.append(f"  <Video name={quoteattr(m.key)} value={quoteattr('$' + m.key)} "
                           f'framerate="${FPS_KEY}" timelineHeight="120"/>')
            elif m.key == self.draw_on:
                out.append(f"  <Image name={quoteattr(m.key)} value={quoteattr('$' + m.key)} "
                           'zoom="true" zoomControl="true"/>')
        if views:
            out.append('  <View style="display: flex; flex-wrap: wrap; gap: 8px">')
            out.extend(f"    <Image name={quoteattr(m.key)} value={quoteattr('$' + m.key)} maxWidth=\"320px\"/>"
                       for m in views)
            out.append("  </View>")
        for c in self.spans:
            video = quoteattr(self.video or "")
            out.append(f"  <TimelineLabels name={quoteattr(c.name)} toName={video}>")
            out.append(f"    <Label value={quoteattr(c.name)}/>")
            out.append("  </TimelineLabels>")
            for member in c.texts:
                # shown while a span of this field is selected: one text per span
                out.append(f"  <Header value={quoteattr(f'{c.name}: {member} of the selected span')} size=\"6\"/>")
                out.append(f"  <TextArea name={quoteattr(text_control(c.name, member))} toName={video} "
                           f'perRegion="true" editable="true" rows="2" maxSubmissions="1" '
                           f'visibleWhen="region-selected" whenLabelValue={quoteattr(c.name)}/>')
        for c in self.geometry:
            out.append(f"  <{c.tag} name={quoteattr(c.name)} toName={quoteattr(self.draw_on)}>")
            out.append(f"    <Label value={quoteattr(c.name)}/>")
            out.append(f"  </{c.tag}>")
        for name in self.context:
            out.append(f"  <Header value={quoteattr(name)} size=\"6\"/>")
            out.append(f"  <Text name={quoteattr(context_key(name))} value={quoteattr('$' + context_key(name))}/>")
        for c in self.controls:
            if c.kind in (TEXT, TEXT_LINES, JSON_TEXT):
                hint = {TEXT: "", TEXT_LINES: " (one item a line)", JSON_TEXT: " (JSON)"}[c.kind]
                rows = 6 if c.kind == TEXT and self.schema.field(c.name).role == "reasoning" else 2
                single = ' maxSubmissions="1"' if c.kind != TEXT_LINES else ""
                out.append(f"  <Header value={quoteattr(c.name + hint)} size=\"6\"/>")
                out.append(f"  <TextArea name={quoteattr(c.name)} toName={quoteattr(self.draw_on)} "
                           f'editable="true" rows="{rows}"{single}/>')
        out.append('  <Header value="Verdict"/>')
        out.append(f'  <Choices name="{VERDICT}" toName={quoteattr(self.draw_on)} choice="single" '
                   'required="true" showInline="true">')
        for v in VERDICTS:
            out.append(f"    <Choice value={quoteattr(v)}/>")
        out.append("  </Choices>")
        out.append("</View>")
        return "\n".join(out) + "\n"


def context_key(name: str) -> str:
    """The task data key (and Text tag name) of a read-only field. Prefixed: Label Studio's
    editor reads some plain keys of a task itself (``$source`` shows the whole task)."""
    return "ctx_" + name


def derive_layout(schema: RecordSchema, views: dict[str, int] | None = None) -> ReviewLayout:
    """The review layout of ``schema``; ``views`` gives the number of images to show for
    each ``list<image>`` field (the corpus's longest list, at most :data:`MAX_VIEWS`)."""
    views = views or {}
    media: list[MediaObject] = []
    context: list[str] = []
    has_video = any(f.type.semantic == "video" for f in schema.fields)
    controls: list[Control] = []
    image_fields = [f for f in schema.fields if _is_image(f.type) or _is_image_list(f.type)]
    # the image that geometry is drawn on: the one with role image, else the first
    image_fields.sort(key=lambda f: 0 if f.role == "image" else 1)
    for f in image_fields:
        if _is_image(f.type):
            media.append(MediaObject(f.name, f.name, None, "Image"))
        else:
            n = max(1, min(views.get(f.name, 1), MAX_VIEWS))
            media.extend(MediaObject(f"{f.name}_{i}", f.name, i, "Image") for i in range(n))
    for f in schema.fields:
        t = f.type
        if t.semantic == "video":
            media.append(MediaObject(f.name, f.name, None, "Video"))
        elif f.name == ID_KEY or f.name == VERDICT:
            continue
        elif kind_multiple := _geometry_kind(t):
            kind, multiple = kind_multiple
            controls.append(Control(f.name, kind, multiple, t, f.required))
        elif f in image_fields:
            continue
        elif has_video and (texts := span_members(t)) is not None:
            controls.append(Control(f.name, SPANS, True, t, f.required, texts))
        elif t.kind == "string" and f.role:
            controls.append(Control(f.name, TEXT, False, t, f.required))
        elif t.kind == "list" and t.item is not None and t.item.kind == "string" and f.role:
            controls.append(Control(f.name, TEXT_LINES, True, t, f.required))
        elif f.role or t.semantic in ("box3d", "point3d"):
            if not t.has_image:
                controls.append(Control(f.name, JSON_TEXT, False, t, f.required))
        elif t.kind == "string" and f.name != "id":
            context.append(f.name)
        elif t.kind == "list" and t.item is not None and t.item.kind == "string":
            context.append(f.name)
    if any(c.kind in (RECTANGLES, KEYPOINTS, BRUSH) for c in controls) and not any(
            m.tag == "Image" for m in media):
        raise ValueError(f"schema {schema.name} has boxes, points or masks but no image field to draw them on")
    draw_on = next((m.key for m in media), ID_KEY)
    fps_field = next((f.name for f in schema.fields if re.search(r"(^|_)(fps|frame_?rate)$", f.name)
                      and f.type.kind in ("float16", "float32", "float64", "int32", "int64")), None)
    return ReviewLayout(schema, tuple(media), tuple(context), tuple(controls), draw_on, fps_field)


def _is_image(t: FieldType) -> bool:
    return t.kind == "image" and t.semantic != "mask"


def _is_image_list(t: FieldType) -> bool:
    return t.kind == "list" and t.item is not None and _is_image(t.item)


def _geometry_kind(t: FieldType) -> tuple[str, bool] | None:
    single = {"box2d": RECTANGLES, "point2d": KEYPOINTS, "mask": BRUSH}
    if t.semantic in single:
        return single[t.semantic], False
    if t.semantic == "points2d":
        return KEYPOINTS, True
    if t.kind == "list" and t.item is not None and t.item.semantic in single:
        return single[t.item.semantic], True
    return None


def schema_from_manifest(manifest: dict) -> RecordSchema:
    """The record schema a build was made with (stored in its manifest)."""
    raw = manifest["spec"]["schema"]
    fields = tuple(Field(name, parse_type(spec["type"]), spec.get("description", ""),
                         spec.get("required", True), spec.get("role"))
                   for name, spec in raw["fields"].items())
    return RecordSchema(name=raw["name"], fields=fields, description=raw.get("description", ""),
                        version=raw.get("version", 1))


def config_controls(label_config: str) -> set[tuple[str, str]]:
    """``(tag, name)`` of every named tag in a labeling config (to compare two configs)."""
    root = ET.fromstring(label_config)
    return {(el.tag, el.attrib["name"]) for el in root.iter() if "name" in el.attrib}


def describe(layout: ReviewLayout) -> str:
    """One line per control, for ``--dry-run`` and the docs."""
    lines = [f"{m.tag} {m.key}" for m in layout.media]
    lines += [f"{c.tag} {c.name} ({c.type}{', list' if c.multiple else ''})" for c in layout.controls]
    lines += [f"TextArea {text_control(c.name, m)} (per span)" for c in layout.spans for m in c.texts]
    lines += [f"Text {n} (read-only)" for n in layout.context]
    return json.dumps(lines, indent=1)
