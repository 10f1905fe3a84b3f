import unittest
from datetime import datetime, timedelta, timezone

import _support  # noqa: F401

from palisade_policy import cidr_contains, is_world_cidr, parse_time

UTC = timezone.utc


class CidrTest(unittest.TestCase):
    def test_world(self):
        for cidr in ("0.0.0.0/0", "::/0", " 0.0.0.0/0 ", "0:0::0/0", "1.2.3.4/0"):
            self.assertTrue(is_world_cidr(cidr), cidr)
        for cidr in ("0.0.0.0/1", "10.0.0.0/8", "::/1", "0.0.0.0", "", "nonsense", None, 0,
                     "::ffff:0.0.0.0/96"):
            self.assertFalse(is_world_cidr(cidr), cidr)

    def test_contains(self):
        self.assertTrue(cidr_contains("10.0.0.0/8", "10.1.2.0/24"))
        self.assertTrue(cidr_contains("10.0.0.0/8", "10.1.2.3"))
        self.assertTrue(cidr_contains("10.0.0.0/8", "10.0.0.0/8"))
        self.assertTrue(cidr_contains("0.0.0.0/0", "192.168.0.1/32"))
        self.assertFalse(cidr_contains("10.0.0.0/8", "11.0.0.0/24"))
        self.assertFalse(cidr_contains("10.1.0.0/16", "10.0.0.0/8"))
        self.assertTrue(cidr_contains("2001:db8::/32", "2001:db8:1::/48"))
        self.assertFalse(cidr_contains("::/0", "10.0.0.0/8"))
        self.assertFalse(cidr_contains("0.0.0.0/0", "::1"))
        self.assertTrue(cidr_contains("10.1.2.3/8", "10.9.9.9"))  # host bits are ignored
        with self.assertRaises(ValueError):
            cidr_contains("10.0.0.0/33", "10.0.0.1")
        with self.assertRaises(ValueError):
            cidr_contains("10.0.0.0/8", None)


class TimeTest(unittest.TestCase):
    def test_rfc3339(self):
        self.assertEqual(parse_time("2024-05-01T12:00:00Z"),
                         datetime(2024, 5, 1, 12, tzinfo=UTC))
        self.assertEqual(parse_time("2024-05-01t12:00:00z"),
                         datetime(2024, 5, 1, 12, tzinfo=UTC))
        self.assertEqual(parse_time("2024-05-01T12:00:00.123456789+02:00"),
                         datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC))
        self.assertEqual(parse_time("2024-05-01 00:30:00-01:30"),
                         datetime(2024, 5, 1, 2, 0, tzinfo=UTC))
        self.assertEqual(parse_time("2016-12-31T23:59:60Z"),
                         datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
        t = parse_time("2024-01-01T00:00:00.5Z")
        self.assertEqual(t.tzinfo, UTC)
        self.assertEqual(t.microsecond, 500000)
        self.assertEqual(parse_time("2024-01-02T00:00:00Z") - parse_time("2024-01-01T00:00:00Z"),
                         timedelta(days=1))

    def test_rejects(self):
        for bad in ("2024-05-01", "2024-05-01T12:00:00", "2024-13-01T00:00:00Z",
                    "2024-02-30T00:00:00Z", "yesterday", "", None, 1700000000):
            with self.assertRaises(ValueError, msg=repr(bad)):
                parse_time(bad)


if __name__ == "__main__":
    unittest.main()
