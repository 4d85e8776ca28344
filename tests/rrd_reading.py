"""Reading Rerun recordings back in tests (rerun.chunk.RrdReader)."""

from collections import defaultdict

import numpy as np
from rerun.chunk import RrdReader


def read_rrd(path):
    """Temporal rows as {entity: {frame: {component: value}}} and static rows as {entity: {component: value}}."""
    temporal: dict = defaultdict(dict)
    static: dict = defaultdict(dict)
    for chunk in RrdReader(path).stream():
        rows = chunk.to_record_batch().to_pylist()
        for row in rows:
            data = {k: v for k, v in row.items() if ":" in k and v is not None}
            if chunk.is_static:
                static[chunk.entity_path].update(data)
            else:
                assert row["frame"] not in temporal[chunk.entity_path], "frame logged twice"
                temporal[chunk.entity_path][row["frame"]] = data
    return temporal, static


def rgb(packed: list[int]) -> np.ndarray:
    """Rerun colours are packed 0xRRGGBBAA."""
    c = np.array(packed, np.uint32)
    return np.stack([c >> 24, (c >> 16) & 255, (c >> 8) & 255], axis=-1).astype(np.uint8)


def blueprint_rows(path) -> list[dict]:
    """Every row of the blueprint stored in the recording."""
    reader = RrdReader(path)
    (blueprint,) = reader.blueprints()
    return [row for chunk in reader.stream(store=blueprint) for row in chunk.to_record_batch().to_pylist()]


def read_blueprint_views(path) -> list[tuple[str, str, str]]:
    """(display name, class, origin) of each view in the stored blueprint."""
    return [(row["ViewBlueprint:display_name"][0], row["ViewBlueprint:class_identifier"][0],
             row["ViewBlueprint:space_origin"][0])
            for row in blueprint_rows(path) if row.get("ViewBlueprint:class_identifier")]


def visible_time_range_overrides(path) -> dict[str, list]:
    """{overridden entity path: its VisibleTimeRanges} over all views of the stored blueprint."""
    reader = RrdReader(path)
    (blueprint,) = reader.blueprints()
    found = {}
    for chunk in reader.stream(store=blueprint):
        if "/ViewContents/overrides/" not in chunk.entity_path:
            continue
        entity = chunk.entity_path.split("/ViewContents/overrides/", 1)[1].rsplit("/visualizers", 1)[0]
        for row in chunk.to_record_batch().to_pylist():
            if row.get("VisibleTimeRanges:ranges"):
                found[entity] = row["VisibleTimeRanges:ranges"]
    return found


def annotation_colors(static_row) -> dict[int, np.ndarray]:
    """{class id: RGB} of an AnnotationContext read back as a static row."""
    return {entry["class_id"]: rgb([entry["class_description"]["info"]["color"]])[0]
            for entry in static_row["AnnotationContext:context"][0]}
