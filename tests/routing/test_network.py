"""Graph building: noding, metres, near-touching ends, snapping onto edges, reachability, one-way."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from patrolmap.routing.network import (
    REASON_DISCONNECTED,
    REASON_ONEWAY,
    RoutingError,
    build_network,
)
from patrolmap.routing.tour import distance_matrix
from tests.routing.helpers import PROJ, grid_lines, layer, lonlat


def test_grid_is_noded_at_crossings_with_lengths_in_metres() -> None:
    net = build_network(layer(grid_lines(5)), projection=PROJ)
    assert net.graph.number_of_nodes() == 25
    assert net.graph.number_of_edges() == 40
    lengths = [d["length_m"] for _, _, d in net.graph.edges(data=True)]
    assert np.allclose(lengths, 100.0, atol=1e-6)
    for _, _, d in net.graph.edges(data=True):
        assert d["geometry"].length == pytest.approx(d["length_m"])


def test_shortest_lengths_on_the_grid_are_manhattan_distances() -> None:
    net = build_network(layer(grid_lines(5)), projection=PROJ)
    pts = [(0, 0), (400, 400), (100, 300), (300, 0), (200, 200)]
    snapped = net.snap(lonlat(pts[0]), [lonlat(p) for p in pts[1:]])
    nodes = [snapped.start] + [snapped.nodes[i] for i in range(4)]
    m = distance_matrix(snapped.graph, nodes)
    expected = np.array([[abs(a[0] - b[0]) + abs(a[1] - b[1]) for b in pts] for a in pts], dtype=float)
    assert np.allclose(m.dist, expected, atol=1e-5)


def test_points_snap_onto_the_nearest_edge_not_the_nearest_node() -> None:
    net = build_network(layer(grid_lines(3)), projection=PROJ)
    # (140, 30): nearest node is (100, 0) at 50 m, nearest edge point (140, 0) at 30 m.
    snapped = net.snap(lonlat((0, 0)), [lonlat((140, 30)), lonlat((60, 100))])
    n0, n1 = snapped.nodes[0], snapped.nodes[1]
    assert snapped.graph.nodes[n0]["x"] == pytest.approx(140, abs=1e-6)
    assert snapped.graph.nodes[n0]["y"] == pytest.approx(0, abs=1e-6)
    assert snapped.snap_distance_m[0] == pytest.approx(30, abs=1e-6)
    assert nx.shortest_path_length(snapped.graph, snapped.start, n0, weight="length_m") == pytest.approx(140)
    assert nx.shortest_path_length(snapped.graph, n0, n1, weight="length_m") == pytest.approx(40 + 100 + 40)
    # the network itself is untouched
    assert net.graph.number_of_nodes() == 9


def test_two_points_on_one_edge_split_it_in_order() -> None:
    net = build_network(layer([[(0, 0), (300, 0)]]), projection=PROJ)
    snapped = net.snap(lonlat((0, 0)), [lonlat((250, 5)), lonlat((100, -5))])
    g = snapped.graph
    assert nx.shortest_path_length(g, snapped.start, snapped.nodes[1], weight="length_m") == pytest.approx(100)
    assert nx.shortest_path_length(g, snapped.nodes[1], snapped.nodes[0], weight="length_m") == pytest.approx(150)
    assert sum(d["length_m"] for _, _, d in g.edges(data=True)) == pytest.approx(300)


def test_far_and_disconnected_points_are_reported_with_reasons() -> None:
    lines = [*grid_lines(3), [(1000, 0), (1100, 0)]]  # an island
    net = build_network(layer(lines), projection=PROJ)
    snapped = net.snap(lonlat((0, 0)), [lonlat((100, 100)), lonlat((1050, 10)), lonlat((5000, 5000))])
    assert list(snapped.nodes) == [0]
    reasons = {u.index: u.reason for u in snapped.unreachable}
    assert reasons[1] == REASON_DISCONNECTED
    assert "farther than 150 m" in reasons[2]
    # really disconnected: no path in the graph
    assert nx.number_connected_components(net.graph) == 2
    back = net.snap(lonlat((1050, 0)), [lonlat((0, 0))])  # and from the island, the grid is out of reach
    assert [u.reason for u in back.unreachable] == [REASON_DISCONNECTED]


def test_start_off_the_network_is_an_error() -> None:
    net = build_network(layer(grid_lines(2)), projection=PROJ)
    with pytest.raises(RoutingError):
        net.snap(lonlat((2000, 2000)), [lonlat((0, 0))])


@pytest.mark.parametrize(("gap", "joined"), [(1.5, True), (3.0, False)])
def test_near_touching_ends_are_merged_within_the_tolerance(gap: float, joined: bool) -> None:
    lines = [[(0, 0), (100, 0)], [(50, gap), (50, 100)]]
    net = build_network(layer(lines), projection=PROJ)
    assert nx.is_connected(net.graph) is joined
    snapped = net.snap(lonlat((0, 0)), [lonlat((50, 100))])
    if joined:
        m = distance_matrix(snapped.graph, [snapped.start, snapped.nodes[0]])
        assert m.dist[0, 1] == pytest.approx(50 + 100, abs=1e-6)  # 50 along, 1.5 connector, 98.5 up
    else:
        assert snapped.unreachable[0].reason == REASON_DISCONNECTED


def test_overshooting_end_is_noded_as_a_crossing() -> None:
    lines = [[(0, 0), (100, 0)], [(50, -1), (50, 100)]]  # crosses by 1 m
    net = build_network(layer(lines), projection=PROJ)
    assert nx.is_connected(net.graph)


def _square_oneway() -> tuple[list, list[str], list[bool]]:
    # counter-clockwise one-way loop, plus a one-way spur leaving (100, 100) with no way back
    lines = [[(0, 0), (100, 0)], [(100, 0), (100, 100)], [(100, 100), (0, 100)], [(0, 100), (0, 0)],
             [(100, 100), (200, 100)]]
    return lines, ["road"] * 5, [True] * 5


def test_drive_mode_respects_oneway() -> None:
    lines, kinds, oneway = _square_oneway()
    gdf = layer(lines, kinds, oneway)
    drive = build_network(gdf, "drive", projection=PROJ)
    assert drive.graph.is_directed()
    snapped = drive.snap(lonlat((0, 0)), [lonlat((0, 100)), lonlat((200, 100))])
    m = distance_matrix(snapped.graph, [snapped.start, snapped.nodes[0]])
    assert m.dist[0, 1] == pytest.approx(300)
    assert m.dist[1, 0] == pytest.approx(100)
    assert [(u.index, u.reason) for u in snapped.unreachable] == [(1, REASON_ONEWAY)]
    walk = build_network(gdf, "walk", projection=PROJ)
    ws = walk.snap(lonlat((0, 0)), [lonlat((0, 100)), lonlat((200, 100))])
    assert not ws.unreachable
    assert nx.shortest_path_length(ws.graph, ws.start, ws.nodes[0], weight="length_m") == pytest.approx(100)


def test_drive_uses_only_roads_and_walk_skips_private_paths() -> None:
    lines = [[(0, 0), (100, 0)], [(100, 0), (200, 0)], [(200, 0), (300, 0)]]
    gdf = layer(lines, ["road", "footway", "service"], access=["public", "public", "private"])
    drive = build_network(gdf, "drive", projection=PROJ, include_private=True)
    assert {d["kind"] for _, _, d in drive.graph.edges(data=True)} == {"road", "service"}
    walk = build_network(gdf, "walk", projection=PROJ)
    assert sum(d["length_m"] for _, _, d in walk.graph.edges(data=True)) == pytest.approx(200)
    walk_all = build_network(gdf, "walk", projection=PROJ, include_private=True)
    assert sum(d["length_m"] for _, _, d in walk_all.graph.edges(data=True)) == pytest.approx(300)


def test_a_footway_marked_as_fire_lane_is_driven() -> None:
    # A 200 m footway from (0, 0) to (200, 0), and a road around it: up 100, across 200, down 100 (400 m).
    lines = [[(0, 0), (200, 0)], [(0, 0), (0, 100), (200, 100), (200, 0)]]
    gdf = layer(lines, ["footway", "road"])

    def drive_length(frame: object) -> float:
        net = build_network(frame, "drive", projection=PROJ)  # type: ignore[arg-type]
        snapped = net.snap(lonlat((0, 0)), [lonlat((200, 0))])
        return nx.shortest_path_length(snapped.graph, snapped.start, snapped.nodes[0], weight="length_m")

    assert drive_length(gdf) == pytest.approx(400, abs=1e-6)  # the footway is not for cars
    marked = gdf.assign(fire_lane=[True, False])
    assert drive_length(marked) == pytest.approx(200, abs=1e-6)  # a fire lane is, whatever its kind
    drive = build_network(marked, "drive", projection=PROJ)
    assert {d["kind"] for _, _, d in drive.graph.edges(data=True)} == {"road", "footway"}
    # Access still wins: a private fire lane stays out unless private paths are asked for.
    private = marked.assign(access=["private", "public"])
    assert drive_length(private) == pytest.approx(400, abs=1e-6)


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="mode"):
        build_network(layer(grid_lines(2)), "fly")  # type: ignore[arg-type]


def test_oneway_roundabout_is_driven_in_its_direction() -> None:
    # a closed one-way ring (counter-clockwise, as drawn) with a two-way approach road
    ring = [(100, 0), (200, 0), (200, 100), (100, 100), (100, 0)]
    gdf = layer([ring, [(0, 0), (100, 0)]], oneway=[True, False])
    net = build_network(gdf, "drive", projection=PROJ)
    snapped = net.snap(lonlat((0, 0)), [lonlat((200, 50)), lonlat((150, 100))])
    assert not snapped.unreachable
    m = distance_matrix(snapped.graph, [snapped.start, snapped.nodes[0], snapped.nodes[1]])
    assert m.dist[0, 1] == pytest.approx(100 + 100 + 50)
    assert m.dist[1, 2] == pytest.approx(50 + 50)
    assert m.dist[2, 1] == pytest.approx(50 + 100 + 100 + 50)


def test_distance_matrix_matches_networkx_dijkstra_on_a_directed_grid() -> None:
    lines = grid_lines(6)
    net = build_network(layer(lines, oneway=[i % 3 == 0 for i in range(len(lines))]), "drive", projection=PROJ)
    rng = np.random.default_rng(9)
    nodes = [int(n) for n in rng.choice(list(net.graph.nodes), 12, replace=False)]
    m = distance_matrix(net.graph, nodes)
    for i, s in enumerate(nodes):
        lengths = nx.single_source_dijkstra_path_length(net.graph, s, weight="length_m")
        for j, t in enumerate(nodes):
            assert m.dist[i, j] == pytest.approx(lengths.get(t, np.inf))
            if t in lengths:
                path = m.paths[i, j]
                assert path[0] == s and path[-1] == t
                assert nx.path_weight(net.graph, path, "length_m") == pytest.approx(lengths[t])


def test_two_paths_between_the_same_nodes_both_stay_in_the_network() -> None:
    """A ring path and a detour ("bubble") joining the same two points: no half may be lost."""
    # A straight 200 m street A-B and a detour A-(0,100)-(200,100)-B of 400 m between the same ends,
    # and a closed ring of 4 x 50 m hanging off B.
    lines = [[(0, 0), (200, 0)], [(0, 0), (0, 100), (200, 100), (200, 0)],
             [(200, 0), (250, 0), (250, 50), (200, 50), (200, 0)]]
    net = build_network(layer(lines), projection=PROJ)
    total = sum(d["length_m"] for _, _, d in net.graph.edges(data=True))
    assert total == pytest.approx(200 + 400 + 200, abs=1e-4)
    # A point on the top of the detour snaps onto it (0 m away), and is reached along it:
    # from A up 100 m and along 100 m; a point on the ring's far corner: 200 m + 50 + 50.
    snapped = net.snap(lonlat((0, 0)), [lonlat((100, 100)), lonlat((250, 50))])
    assert snapped.snap_distance_m[0] == pytest.approx(0, abs=1e-3)
    assert snapped.snap_distance_m[1] == pytest.approx(0, abs=1e-3)
    g = snapped.graph
    assert nx.shortest_path_length(g, snapped.start, snapped.nodes[0], weight="length_m") == pytest.approx(200)
    assert nx.shortest_path_length(g, snapped.start, snapped.nodes[1], weight="length_m") == pytest.approx(300)
