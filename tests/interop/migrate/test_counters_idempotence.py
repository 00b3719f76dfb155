"""Counters get origin's value; a second run of the same migration changes nothing."""
from zdm_migrate import (T0, assert_completed_migration, assert_exit, assert_tables_equal,
                         check_report, count_rows, create_keyspace, migrate, on_both, read_cell,
                         table_entry, write)


def counter_values(session):
    return {(r.k, r.ck): (r.n, r.m) for r in session.execute("SELECT k, ck, n, m FROM cnt.c")}


def test_counters_get_origins_value_and_second_run_changes_nothing(origin, target, osess, tsess):
    for s in (osess, tsess):
        create_keyspace(s, "cnt")
    on_both((osess, tsess), "CREATE TABLE cnt.c (k int, ck int, n counter, m counter, "
                            "PRIMARY KEY (k, ck))")
    upd = "UPDATE cnt.c SET n = n + ?, m = m + ? WHERE k = ? AND ck = ?"
    upd_n = "UPDATE cnt.c SET n = n + ? WHERE k = ? AND ck = ?"
    write(osess, upd, (5, -3, 1, 1))
    write(osess, upd_n, (0, 1, 2))                 # a counter row whose value is 0, m null
    write(osess, upd, (123456789012, 1, 2, 1))
    write(osess, upd_n, (-4, 2, 1))                # several increments of the same cell
    for k in range(3, 13):
        for ck in range(3):
            write(osess, upd, (k * ck - 7, k, k, ck))
    # Target already counts something for some rows (e.g. the proxy's writes since it started).
    write(tsess, upd, (100, 50, 1, 1))
    write(tsess, upd_n, (7, 1, 2))                 # origin says 0: target must come back to 0
    expected = counter_values(osess)
    assert expected.get((1, 2)) == (0, None) and expected.get((2, 1)) == (123456789008, 1), expected
    rows = count_rows(osess, "cnt", "c")
    assert rows == 33

    res = migrate(origin, target, "--keyspaces", "cnt")
    assert_exit(res, 0)
    check_report(res, "migrate", "completed")
    e = table_entry(res, "cnt", "c")
    assert e["rows_read"] == rows, res.describe()
    assert e["ranges_failed"] == 0 and e["ranges_done"] == e["ranges_total"], res.describe()
    assert counter_values(tsess) == expected
    assert_tables_equal(osess, tsess, "cnt", "c")

    res2 = migrate(origin, target, "--keyspaces", "cnt")
    assert_exit(res2, 0)
    check_report(res2, "migrate", "completed")
    assert table_entry(res2, "cnt", "c")["rows_read"] == rows, res2.describe()
    assert counter_values(tsess) == expected, "the second run changed target's counters"


def test_second_run_duplicates_no_list_element_and_keeps_writetimes(origin, target, osess, tsess):
    for s in (osess, tsess):
        create_keyspace(s, "idem")
    on_both((osess, tsess),
            "CREATE TABLE idem.lt (k int, c int, l list<text>, fl frozen<list<int>>, s set<int>, "
            "m map<int, text>, v text, w int, PRIMARY KEY (k, c))")
    t = "idem.lt"
    for k in range(10):
        for c in range(4):
            key = (k, c)
            write(osess, "UPDATE %s USING TIMESTAMP ? SET l = l + ? WHERE k = ? AND c = ?" % t,
                  (T0 + k * 100 + c, ["a%d" % c, "b", "a%d" % c]) + key)
            if c % 2:
                # Elements appended later, at another timestamp; a prepend too.
                write(osess, "UPDATE %s USING TIMESTAMP ? SET l = l + ? WHERE k = ? AND c = ?" % t,
                      (T0 + 5000 + k, ["late"]) + key)
                write(osess, "UPDATE %s USING TIMESTAMP ? SET l = ? + l WHERE k = ? AND c = ?" % t,
                      (T0 + 6000 + k, ["first"]) + key)
            write(osess, "UPDATE %s USING TIMESTAMP ? AND TTL ? SET v = ?, fl = ? WHERE k = ? AND c = ?" % t,
                  (T0 + 2000 + k, 20000 + k, "v%d" % k, [c, c, k]) + key)
            write(osess, "UPDATE %s USING TIMESTAMP ? SET w = ?, s = s + ?, m = m + ? WHERE k = ? AND c = ?" % t,
                  (T0 + 3000 + c, k * c, {c, k}, {c: "x"}) + key)
    rows = count_rows(osess, "idem", "lt")
    assert rows == 40

    res = migrate(origin, target, "--tables", "idem.lt")
    assert_exit(res, 0)
    check_report(res, "migrate", "completed")
    assert_completed_migration(res, "idem", "lt", rows)
    _, after_first = assert_tables_equal(osess, tsess, "idem", "lt")

    res2 = migrate(origin, target, "--tables", "idem.lt")
    assert_exit(res2, 0)
    check_report(res2, "migrate", "completed")
    assert table_entry(res2, "idem", "lt")["rows_read"] == rows, res2.describe()
    _, after_second = assert_tables_equal(osess, tsess, "idem", "lt")
    changed = []
    for key, cells in after_first.items():
        for name, (v, wt, _ttl) in cells.items():
            v2, wt2, _ = after_second[key][name]
            if (v, wt) != (v2, wt2):
                changed.append("%r %s: %r@%r -> %r@%r" % (key, name, v, wt, v2, wt2))
    assert not changed, "the second run changed target cells:\n" + "\n".join(changed[:20])
    sample = read_cell(tsess, "idem", "lt", "l", "k = 3 AND c = 1", meta=False)[0]
    assert sample == ("list", ("first", "a1", "b", "a1", "late")), sample
