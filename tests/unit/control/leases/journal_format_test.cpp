// Byte layout of journal and snapshot records (control/leases/journal_format.*,
// replay.*): round trips, and that every truncation and every single-bit flip of a
// journal is caught, leaving exactly a prefix of the records applied.
#include "control/leases/journal_format.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "control/leases/replay.hpp"
#include "control/leases/store_state.hpp"

namespace eg::ctl::leases {
namespace {

lease sample(int i) {
    lease l;
    l.vps_id = "vps-" + std::to_string(i);
    l.organization_id = "org-" + std::to_string(i % 3);
    l.mac = {0x52, 0x54, 0, 0, 0, static_cast<uint8_t>(i)};
    if (i % 2) {  // a DHCP client key: kind byte (hardware) + the MAC; binary bytes
        l.client_id = std::string("\x00", 1) + std::string(reinterpret_cast<const char*>(l.mac.data()), 6);
    }
    l.ipv4 = 0x0a000000u + static_cast<uint32_t>(i);
    l.ipv6[0] = 0x20;
    l.ipv6[15] = static_cast<uint8_t>(i);
    l.expires_s = 1'800'000'000 + i;
    l.state = i % 2 ? lease_state::bound : lease_state::offered;
    return l;
}

/// A journal of generation 1 with records seq 1..n of mixed kinds.
std::vector<uint8_t> journal(int n, std::vector<size_t>* ends = nullptr) {
    std::vector<uint8_t> b(k_file_header_size);
    encode_file_header({file_kind::journal, 1, 0}, b.data());
    for (int i = 1; i <= n; ++i) {
        switch (i % 4) {
            case 0: encode_lease_erase(b, static_cast<uint64_t>(i), "vps-" + std::to_string(i - 2)); break;
            case 1:
            case 2: encode_lease_put(b, static_cast<uint64_t>(i), sample(i)); break;
            default: {
                const std::string v = R"({"port":)" + std::to_string(8000 + i) + "}";
                encode_kv_put(b, static_cast<uint64_t>(i), "port_forward", "pf-" + std::to_string(i),
                              {reinterpret_cast<const uint8_t*>(v.data()), v.size()});
            }
        }
        if (ends) ends->push_back(b.size());
    }
    return b;
}

/// The state after the first k records.
store_state prefix_state(const std::vector<uint8_t>& j, const std::vector<size_t>& ends, size_t k) {
    store_state st;
    std::vector<uint8_t> cut(j.begin(), j.begin() + static_cast<long>(k ? ends[k - 1] : k_file_header_size));
    replay_journal_image(cut, st);
    return st;
}

TEST(LeaseJournalFormat, LeaseRoundTripsThroughItsRecord) {
    std::vector<uint8_t> b;
    lease l = sample(7);
    l.state = lease_state::static_lease;
    l.expires_s = 0;
    encode_lease_put(b, 42, l);
    const auto s = scan_records(b, [&](const record_view& v) {
        EXPECT_EQ(v.seq, 42u);
        EXPECT_EQ(v.type, record_type::lease_put);
        lease out;
        EXPECT_TRUE(decode_lease(v.payload, out));
        EXPECT_EQ(out, l);
        return true;
    });
    EXPECT_EQ(s.records, 1u);
    EXPECT_EQ(s.stop, scan_stop::end);
    EXPECT_EQ(s.valid_end, b.size());
}

/// The payload of one lease_put record (frame and body header stripped).
std::vector<uint8_t> lease_payload(const lease& l) {
    std::vector<uint8_t> b;
    encode_lease_put(b, 1, l);
    return std::vector<uint8_t>(b.begin() + k_frame_header_size + k_body_header_size, b.end());
}

// Replay decodes lease records into views (decode_lease_view) instead of leases:
// every payload the old decoder accepted it must accept with the same fields, and
// every one it refused it must refuse, leaving the output alone.
TEST(LeaseJournalFormat, LeaseViewDecodesWhatDecodeLeaseDoes) {
    lease long_ids = sample(9);
    long_ids.vps_id = std::string(k_max_lease_key, 'v');        // past the small-string buffer
    long_ids.organization_id = std::string(k_max_id, 'o');
    long_ids.client_id = std::string(k_max_client_id, '\x01');
    lease bare = sample(4);
    bare.organization_id.clear();
    bare.client_id.clear();
    bare.expires_s = -1;  // any 64-bit value round trips
    const auto base = lease_payload(sample(5));
    const auto set16 = [](std::vector<uint8_t> p, size_t at, uint16_t v) {
        p[at] = static_cast<uint8_t>(v);
        p[at + 1] = static_cast<uint8_t>(v >> 8);
        return p;
    };
    const auto with = [](std::vector<uint8_t> p, size_t at, uint8_t v) {
        p[at] = v;
        return p;
    };
    struct row {
        const char* name;
        std::vector<uint8_t> payload;
        bool ok;
    };
    const std::vector<row> rows = {
        {"sample", base, true},
        {"longest fields", lease_payload(long_ids), true},
        {"no org, no client, negative expiry", lease_payload(bare), true},
        {"empty", {}, false},
        {"one byte short of the fixed part", std::vector<uint8_t>(base.begin(), base.begin() + 41), false},
        {"one byte short", std::vector<uint8_t>(base.begin(), base.end() - 1), false},
        {"one byte over", [&] { auto p = base; p.push_back(0); return p; }(), false},
        {"state 0", with(base, 0, 0), false},
        {"state 6", with(base, 0, 6), false},
        {"pad byte set", with(base, 1, 1), false},
        {"vps_id length 0", set16(base, 2, 0), false},
        {"vps_id over its limit", set16(base, 2, k_max_lease_key + 1), false},
        {"organization over its limit", set16(base, 4, k_max_id + 1), false},
        {"client over its limit", set16(base, 6, k_max_client_id + 1), false},
        {"lengths past the payload", set16(base, 2, 200), false},
    };
    for (const row& r : rows) {
        lease_view v;
        v.vps_id = "untouched";
        lease l;
        l.vps_id = "untouched";
        EXPECT_EQ(decode_lease_view(r.payload, v), r.ok) << r.name;
        EXPECT_EQ(decode_lease(r.payload, l), r.ok) << r.name;
        if (!r.ok) {
            EXPECT_EQ(v.vps_id, "untouched") << r.name;
            continue;
        }
        EXPECT_EQ(v.vps_id, l.vps_id) << r.name;
        EXPECT_EQ(v.organization_id, l.organization_id) << r.name;
        EXPECT_EQ(v.client_id, l.client_id) << r.name;
        EXPECT_EQ(v.mac, l.mac) << r.name;
        EXPECT_EQ(v.ipv4, l.ipv4) << r.name;
        EXPECT_EQ(v.ipv6, l.ipv6) << r.name;
        EXPECT_EQ(v.expires_s, l.expires_s) << r.name;
        EXPECT_EQ(v.state, l.state) << r.name;
        EXPECT_EQ(lease_payload(l), r.payload) << r.name;  // and re-encodes to the same bytes
    }
    lease out;
    ASSERT_TRUE(decode_lease(lease_payload(long_ids), out));
    EXPECT_EQ(out, long_ids);
}

// put_lease from a view assigns in place: an update of a key (long and short fields,
// growing and shrinking) leaves exactly the new lease, and the address index follows it.
TEST(LeaseJournalFormat, PutFromAViewUpdatesInPlace) {
    struct step {
        const char* name;
        lease l;
    };
    lease a = sample(1);
    a.vps_id = std::string(40, 'a');  // a heap-allocated key
    a.organization_id = std::string(100, 'x');
    lease a2 = a;
    a2.organization_id = "short";
    a2.client_id.clear();
    a2.ipv4 += 100;
    lease a3 = a2;
    a3.state = lease_state::released;  // keeps its address in the record, not in the index
    lease a4 = a2;
    a4.organization_id = std::string(200, 'y');
    lease a5 = a4;
    a5.expires_s += 3600;  // a renewal: same address, its index entry stays
    lease b = sample(2);
    b.ipv4 = a4.ipv4;  // takes the address from a (a conflict: the later put wins)
    const std::vector<step> steps = {{"a", a},
                                     {"a moved, shorter fields", a2},
                                     {"a released", a3},
                                     {"a bound again, longer org", a4},
                                     {"a renewed", a5},
                                     {"b takes a's address", b}};
    store_state st;
    std::map<std::string, lease> model;
    for (const step& s : steps) {
        const auto payload = lease_payload(s.l);
        lease_view v;
        ASSERT_TRUE(decode_lease_view(payload, v)) << s.name;
        st.put_lease(v);
        model[s.l.vps_id] = s.l;
        ASSERT_EQ(st.leases().size(), model.size()) << s.name;
        for (const auto& [id, l] : model) {
            const lease* got = st.find_lease(id);
            ASSERT_NE(got, nullptr) << s.name;
            EXPECT_EQ(*got, l) << s.name;
            if (holds_address(l.state) && st.find_by_ipv4(l.ipv4) && st.find_by_ipv4(l.ipv4)->vps_id == id) {
                EXPECT_EQ(st.find_by_ipv4(l.ipv4), got) << s.name;
            }
        }
        const lease* holder = st.find_by_ipv4(s.l.ipv4);
        if (holds_address(s.l.state)) {
            ASSERT_NE(holder, nullptr) << s.name;
            EXPECT_EQ(holder->vps_id, s.l.vps_id) << s.name;
        } else {
            EXPECT_EQ(holder, nullptr) << s.name;
        }
        EXPECT_EQ(st.address_conflicts(), &s == &steps.back() ? 1u : 0u) << s.name;
    }
    EXPECT_EQ(st.find_by_ipv4(a.ipv4), nullptr);  // a moved away from it
    ASSERT_NE(st.find_by_ipv4(a4.ipv4), nullptr);
    EXPECT_EQ(st.find_by_ipv4(a4.ipv4)->vps_id, b.vps_id);
    EXPECT_EQ(st.address_conflicts(), 1u);
}

// A snapshot lists its leases in the bucket order of a table sized for exactly its
// records, the size replay picks from the end record, so a restart's inserts walk that
// table in order. Whatever the order, it must replay to the same state.
TEST(LeaseJournalFormat, SnapshotListsLeasesInTheBucketOrderReplayUses) {
    for (const int n : {0, 1, 2, 97, 3000}) {
        store_state st;
        for (int i = 0; i < n; ++i) st.put_lease(sample(i));
        const std::string v = "{}";
        st.put_record("forward", "k", {reinterpret_cast<const uint8_t*>(v.data()), v.size()});
        std::vector<uint8_t> b(k_file_header_size);
        encode_file_header({file_kind::snapshot, 2, 9}, b.data());
        const uint64_t count = st.encode(b, 1u << 30, [](std::vector<uint8_t>&) { return true; });
        ASSERT_EQ(count, static_cast<uint64_t>(n) + 1);
        encode_snapshot_end(b, count + 1, count);

        store_state::lease_map sized;
        sized.reserve(count);
        std::vector<size_t> buckets;
        scan_records(std::span(b).subspan(k_file_header_size), [&](const record_view& r) {
            lease l;
            if (r.type == record_type::lease_put && decode_lease(r.payload, l)) {
                buckets.push_back(sized.bucket(l.vps_id));
            }
            return true;
        });
        EXPECT_EQ(buckets.size(), static_cast<size_t>(n));
        EXPECT_TRUE(std::is_sorted(buckets.begin(), buckets.end())) << n << " leases";

        store_state back;
        const auto r = replay_snapshot_image(b, back);
        EXPECT_TRUE(r.complete) << r.problem;
        EXPECT_EQ(back, st) << n << " leases";
    }
}

TEST(LeaseJournalFormat, HeaderRoundTripsAndRejectsTheOtherKind) {
    uint8_t h[k_file_header_size];
    encode_file_header({file_kind::snapshot, 9, 1234}, h);
    const auto d = decode_file_header(h, file_kind::snapshot);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->generation, 9u);
    EXPECT_EQ(d->base_seq, 1234u);
    EXPECT_FALSE(decode_file_header(h, file_kind::journal));
    h[10] ^= 4;
    EXPECT_FALSE(decode_file_header(h, file_kind::snapshot));
}

TEST(LeaseJournalFormat, EveryTruncationLeavesAPrefix) {
    std::vector<size_t> ends;
    const auto j = journal(12, &ends);
    store_state full;
    ASSERT_TRUE(replay_journal_image(j, full).complete);
    for (size_t len = 0; len < j.size(); ++len) {
        std::vector<uint8_t> cut(j.begin(), j.begin() + static_cast<long>(len));
        store_state st;
        const file_replay r = replay_journal_image(cut, st);
        size_t k = 0;
        while (k < ends.size() && ends[k] <= len) ++k;
        EXPECT_EQ(r.records, len < k_file_header_size ? 0u : k) << len;
        EXPECT_EQ(r.complete, len >= k_file_header_size && (len == k_file_header_size || len == ends[k ? k - 1 : 0]))
            << len;
        EXPECT_EQ(st, prefix_state(j, ends, r.records)) << len;
        if (!r.complete) {
            EXPECT_FALSE(r.problem.empty());
        }
    }
}

TEST(LeaseJournalFormat, EverySingleBitFlipIsCaught) {
    std::vector<size_t> ends;
    const auto j = journal(6, &ends);
    for (size_t bit = 0; bit < j.size() * 8; ++bit) {
        auto bad = j;
        bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        store_state st;
        const file_replay r = replay_journal_image(bad, st);
        ASSERT_FALSE(r.complete) << "bit " << bit;
        // Records before the damaged one are applied, nothing after it.
        size_t k = 0;
        while (k < ends.size() && ends[k] <= bit / 8) ++k;
        EXPECT_EQ(r.records, bit / 8 < k_file_header_size ? 0u : k) << "bit " << bit;
        EXPECT_EQ(st, prefix_state(j, ends, r.records)) << "bit " << bit;
    }
}

TEST(LeaseJournalFormat, OutOfOrderSequenceAndBadPayloadStopReplay) {
    std::vector<uint8_t> b(k_file_header_size);
    encode_file_header({file_kind::journal, 1, 10}, b.data());
    encode_lease_put(b, 11, sample(1));
    encode_lease_put(b, 13, sample(2));  // 12 is missing
    store_state st;
    auto r = replay_journal_image(b, st);
    EXPECT_FALSE(r.complete);
    EXPECT_EQ(r.records, 1u);
    EXPECT_EQ(r.last_seq, 11u);

    // A lease with an empty vps_id has a valid frame but an invalid payload.
    std::vector<uint8_t> c(k_file_header_size);
    encode_file_header({file_kind::journal, 1, 0}, c.data());
    lease l = sample(3);
    l.vps_id.clear();
    encode_lease_put(c, 1, l);
    store_state st2;
    r = replay_journal_image(c, st2);
    EXPECT_FALSE(r.complete);
    EXPECT_EQ(r.records, 0u);
}

TEST(LeaseJournalFormat, SnapshotNeedsItsEndRecord) {
    store_state st;
    for (int i = 0; i < 5; ++i) st.put_lease(sample(i));
    const std::string v = R"({"mode":"dedicated","address":"203.0.113.9"})";
    st.put_record("egress_policy", "vps-1", {reinterpret_cast<const uint8_t*>(v.data()), v.size()});
    std::vector<uint8_t> b(k_file_header_size);
    encode_file_header({file_kind::snapshot, 3, 77}, b.data());
    const uint64_t n = st.encode(b, 1u << 30, [](std::vector<uint8_t>&) { return true; });
    EXPECT_EQ(n, 6u);
    const size_t body_end = b.size();
    encode_snapshot_end(b, n + 1, n);

    store_state back;
    auto r = replay_snapshot_image(b, back);
    EXPECT_TRUE(r.complete) << r.problem;
    EXPECT_EQ(back, st);
    EXPECT_EQ(r.header.base_seq, 77u);

    store_state partial;
    r = replay_snapshot_image(std::span(b).first(body_end), partial);
    EXPECT_FALSE(r.complete);
    EXPECT_NE(r.problem.find("end record"), std::string::npos);

    auto trailing = b;
    trailing.push_back(0);
    store_state t;
    EXPECT_FALSE(replay_snapshot_image(trailing, t).complete);
}

}  // namespace
}  // namespace eg::ctl::leases
