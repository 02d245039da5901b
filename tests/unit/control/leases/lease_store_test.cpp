// The lease store (control/leases/lease_store.*): persistence across reopen, group
// commit and tickets, torn tails, corruption reports, compaction and its crash
// safety at every step, the asio hand-off, and rebuilding pools from leases.
#include "control/leases/lease_store.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "control/leases/pool_restore.hpp"
#include "tests/unit/control/leases/temp_dir.hpp"

namespace eg::ctl::leases {
namespace {

namespace fs = std::filesystem;

lease make_lease(int i, lease_state s = lease_state::bound) {
    lease l;
    l.vps_id = "vps-" + std::to_string(i);
    l.organization_id = "org-a";
    l.mac = {0x52, 0x54, 0, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    l.client_id = std::string("\x01\x01", 2) + std::string(reinterpret_cast<const char*>(l.mac.data()), 6);
    l.ipv4 = 0x0a000000u + static_cast<uint32_t>(i);
    l.ipv6 = {0x20, 0x01, 0x0d, 0xb8};
    l.ipv6[14] = static_cast<uint8_t>(i >> 8);
    l.ipv6[15] = static_cast<uint8_t>(i);
    l.expires_s = 1'900'000'000;
    l.state = s;
    return l;
}

std::unique_ptr<lease_store> open_ok(const fs::path& dir, open_report* rep = nullptr, store_options o = {}) {
    std::error_code ec;
    auto s = lease_store::open(dir, std::move(o), ec, rep);
    EXPECT_FALSE(ec) << ec.message() << (rep ? " " + rep->load.detail : "");
    return s;
}

uint64_t newest_journal(const fs::path& dir) {
    directory_listing l;
    EXPECT_FALSE(list_state_directory(dir, l));
    return l.journals.empty() ? 0 : l.journals.back();
}

void append_bytes(const fs::path& p, const std::vector<uint8_t>& b) {
    std::ofstream f(p, std::ios::binary | std::ios::app);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

TEST(LeaseStore, LeasesAndRecordsSurviveReopen) {
    test::temp_dir d;
    store_state expect;
    {
        auto s = open_ok(d.path());
        for (int i = 1; i <= 100; ++i) ASSERT_TRUE(s->put_lease(make_lease(i)));
        lease renewed = make_lease(5);
        renewed.expires_s += 3600;
        ASSERT_TRUE(s->put_lease(renewed));
        ASSERT_TRUE(s->erase_lease("vps-7"));
        ASSERT_TRUE(s->put_record("port_forward", "203.0.113.1:8080/tcp", R"({"vps_id":"vps-1","port":80})"));
        ASSERT_TRUE(s->put_record("proxy_port", "vps-2", "31337"));
        ASSERT_TRUE(s->erase_record("proxy_port", "vps-2"));
        const auto c = s->commit();
        ASSERT_FALSE(c.ec);
        EXPECT_EQ(c.durable, s->last_ticket());
        expect = s->state();
    }
    open_report rep;
    auto s = open_ok(d.path(), &rep);
    EXPECT_EQ(s->state(), expect);
    EXPECT_EQ(s->leases().size(), 99u);
    EXPECT_EQ(s->find_lease("vps-5")->expires_s, 1'900'000'000 + 3600);
    EXPECT_EQ(s->find_lease("vps-7"), nullptr);
    EXPECT_EQ(s->find_by_ipv4(0x0a000000u + 9)->vps_id, "vps-9");
    const auto* pf = s->find_record("port_forward", "203.0.113.1:8080/tcp");
    ASSERT_NE(pf, nullptr);
    EXPECT_EQ(std::string(pf->begin(), pf->end()), R"({"vps_id":"vps-1","port":80})");
    EXPECT_EQ(s->find_record("proxy_port", "vps-2"), nullptr);
    EXPECT_EQ(rep.truncated_bytes, 0u);
    EXPECT_EQ(rep.load.journal_records, 105u);
    EXPECT_EQ(s->last_ticket(), 105u);  // tickets continue after a restart
}

TEST(LeaseStore, RejectsConflictsAndBadRecordsWithoutWritingThem) {
    test::temp_dir d;
    auto s = open_ok(d.path());
    ASSERT_TRUE(s->put_lease(make_lease(1)));
    lease thief = make_lease(2);
    thief.ipv4 = make_lease(1).ipv4;
    EXPECT_EQ(s->put_lease(thief).ec, store_errc::address_conflict);
    // Once vps-1 releases it, the address may go to someone else.
    lease rel = make_lease(1, lease_state::released);
    ASSERT_TRUE(s->put_lease(rel));
    EXPECT_TRUE(s->put_lease(thief));
    lease empty = make_lease(3);
    empty.vps_id.clear();
    EXPECT_EQ(s->put_lease(empty).ec, store_errc::invalid_record);
    lease long_id = make_lease(4);
    long_id.vps_id.assign(1025, 'x');
    EXPECT_EQ(s->put_lease(long_id).ec, store_errc::invalid_record);
    lease long_client = make_lease(7);
    long_client.client_id.assign(257, 'c');
    EXPECT_EQ(s->put_lease(long_client).ec, store_errc::invalid_record);
    lease long_org = make_lease(5);
    long_org.organization_id.assign(256, 'o');
    EXPECT_EQ(s->put_lease(long_org).ec, store_errc::invalid_record);
    // A binary key of the size a DHCP client key needs is fine.
    lease client_keyed = make_lease(6);
    client_keyed.vps_id = std::string("\x0a\x00\x00\x00\x01", 5) + std::string(255, '\xab');
    EXPECT_TRUE(s->put_lease(client_keyed));
    EXPECT_EQ(s->put_record("", "k", "v").ec, store_errc::invalid_record);
    EXPECT_EQ(s->put_record("ns", std::string(2000, 'k'), "v").ec, store_errc::invalid_record);
    EXPECT_EQ(s->last_ticket(), 4u);
}

TEST(LeaseStore, SecondOpenOfTheSameDirectoryIsRefused) {
    test::temp_dir d;
    auto s = open_ok(d.path());
    std::error_code ec;
    auto t = lease_store::open(d.path(), {}, ec);
    EXPECT_EQ(t, nullptr);
    EXPECT_EQ(ec, store_errc::locked);
}

TEST(LeaseStore, OneFdatasyncPerCommitAndDurableTicketsReported) {
    test::temp_dir d;
    std::vector<ticket> seen;
    std::mutex mu;
    store_options o;
    o.on_durable = [&](ticket t, std::error_code ec) {
        EXPECT_FALSE(ec);
        std::lock_guard lk(mu);
        seen.push_back(t);
    };
    auto s = open_ok(d.path(), nullptr, o);
    ticket last = 0;
    for (int i = 1; i <= 256; ++i) last = s->put_lease(make_lease(i)).t;
    EXPECT_FALSE(s->is_durable(last));
    const auto c = s->commit();
    EXPECT_FALSE(c.ec);
    EXPECT_TRUE(s->is_durable(last));
    EXPECT_EQ(s->counters().fdatasyncs, 1u);
    EXPECT_EQ(s->counters().batches, 1u);
    for (int i = 257; i <= 260; ++i) s->put_lease(make_lease(i));
    s->commit();
    EXPECT_EQ(s->counters().fdatasyncs, 2u);
    s->commit();  // nothing pending: no fsync
    EXPECT_EQ(s->counters().fdatasyncs, 2u);
    std::lock_guard lk(mu);
    EXPECT_EQ(seen, (std::vector<ticket>{256, 260}));
}

TEST(LeaseStore, DurabilityArrivesOnTheIoContextThroughPost) {
    // The shape the DHCP server uses: append, request_commit (no waiting), and the
    // sync thread's report posted back into the control thread's io_context.
    test::temp_dir d;
    boost::asio::io_context ioc;
    ticket acked = 0;
    store_options o;
    o.on_durable = [&](ticket t, std::error_code ec) {
        boost::asio::post(ioc, [&acked, t, ec] {
            if (!ec) acked = t;
        });
    };
    auto s = open_ok(d.path(), nullptr, o);
    const ticket t = s->put_lease(make_lease(1)).t;
    s->request_commit();
    auto work = boost::asio::make_work_guard(ioc);  // the loop waits for the post
    for (int i = 0; i < 600 && acked < t; ++i) ioc.run_one_for(std::chrono::milliseconds(100));
    EXPECT_EQ(acked, t);
    EXPECT_TRUE(s->is_durable(t));
}

TEST(LeaseStore, AFailedWriteIsFinalAndNothingAfterItIsReportedDurable) {
    // A child process with a small file-size limit (RLIMIT_FSIZE; SIGXFSZ ignored,
    // so write() fails with EFBIG) stands in for a disk that fails.
    test::temp_dir d;
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::signal(SIGXFSZ, SIG_IGN);
        rlimit rl{64 << 10, 64 << 10};
        if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(10);
        std::error_code ec;
        store_options o;
        o.auto_compact = false;
        std::atomic<int> failure_reports{0};
        o.on_durable = [&](ticket, std::error_code e) {
            if (e) ++failure_reports;
        };
        auto s = lease_store::open(d.path(), o, ec);
        if (!s) ::_exit(11);
        ticket good = 0;
        std::error_code failed;
        for (int i = 1; i <= 5000 && !failed; ++i) {
            s->put_lease(make_lease(i));
            if (i % 50 == 0) {
                const auto c = s->commit();
                if (c.ec) {
                    failed = c.ec;
                } else {
                    good = c.durable;
                }
            }
        }
        if (failed != std::errc::file_too_large) ::_exit(12);
        if (s->durable_ticket() != good) ::_exit(13);
        // Later writes never become durable, even small ones that would fit.
        s->erase_lease("vps-1");
        const auto c = s->commit();
        if (c.ec != std::errc::file_too_large || s->durable_ticket() != good) ::_exit(14);
        // on_durable said so for the failed batch and again for the dropped one.
        // (commit() returns as soon as the failure is known, maybe before the sync
        // thread has dropped the second batch: wait for it, boundedly.)
        for (int i = 0; i < 5000 && failure_reports.load() < 2; ++i) ::usleep(1000);
        if (failure_reports.load() != 2) ::_exit(15);
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    // What was reported durable is there; the directory opens cleanly.
    open_report rep;
    auto s = open_ok(d.path(), &rep);
    EXPECT_GT(s->leases().size(), 0u);
    EXPECT_NE(s->find_lease("vps-1"), nullptr);
}

TEST(LeaseStore, TornTailIsCutAndCountedAndAppendsContinueAfterIt) {
    test::temp_dir d;
    {
        auto s = open_ok(d.path());
        for (int i = 1; i <= 10; ++i) s->put_lease(make_lease(i));
        s->commit();
    }
    // A crash mid-batch: half a record, then zeros (unwritten page).
    std::vector<uint8_t> torn;
    encode_lease_put(torn, 11, make_lease(11));
    torn.resize(torn.size() / 2);
    torn.insert(torn.end(), 100, 0);
    const size_t torn_size = torn.size();
    append_bytes(journal_path(d.path(), newest_journal(d.path())), torn);
    std::string logged;
    store_options o;
    o.log = [&](std::string_view m) { logged += std::string(m) + "\n"; };
    {
        open_report rep;
        auto s = open_ok(d.path(), &rep, o);
        EXPECT_EQ(rep.truncated_bytes, torn_size);
        EXPECT_NE(logged.find("torn tail"), std::string::npos) << logged;
        EXPECT_EQ(s->leases().size(), 10u);
        EXPECT_EQ(s->find_lease("vps-11"), nullptr);
        s->put_lease(make_lease(12));
        s->commit();
    }
    open_report rep;
    auto s = open_ok(d.path(), &rep);
    EXPECT_EQ(rep.truncated_bytes, 0u);
    EXPECT_EQ(s->leases().size(), 11u);
    EXPECT_NE(s->find_lease("vps-12"), nullptr);
}

/// Writes journal `gen` by hand: records seq base+1..base+n.
void write_journal(const fs::path& dir, uint64_t gen, uint64_t base, int n) {
    std::vector<uint8_t> b(k_file_header_size);
    encode_file_header({file_kind::journal, gen, base}, b.data());
    for (int i = 1; i <= n; ++i) encode_lease_put(b, base + static_cast<uint64_t>(i), make_lease(static_cast<int>(base) + i));
    std::ofstream(journal_path(dir, gen), std::ios::binary).write(reinterpret_cast<const char*>(b.data()),
                                                                  static_cast<std::streamsize>(b.size()));
}

void flip(const fs::path& p, size_t offset) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
}

std::error_code open_err(const fs::path& dir, open_report& rep) {
    std::error_code ec;
    auto s = lease_store::open(dir, {}, ec, &rep);
    EXPECT_EQ(s == nullptr, static_cast<bool>(ec));
    return ec;
}

TEST(LeaseStore, DamageBeforeTheNewestJournalIsAnErrorThatSaysWhere) {
    {
        test::temp_dir d;
        write_journal(d.path(), 1, 0, 10);
        write_journal(d.path(), 2, 10, 5);
        open_report rep;
        EXPECT_FALSE(open_err(d.path(), rep));  // intact: 15 leases
        EXPECT_EQ(rep.load.journal_records, 15u);
    }
    {
        test::temp_dir d;
        write_journal(d.path(), 1, 0, 10);
        write_journal(d.path(), 2, 10, 5);
        flip(journal_path(d.path(), 1), 200);
        open_report rep;
        EXPECT_EQ(open_err(d.path(), rep), store_errc::corrupt_journal);
        EXPECT_NE(rep.load.detail.find("journal-0000000000000001"), std::string::npos) << rep.load.detail;
        EXPECT_NE(rep.load.detail.find("checksum"), std::string::npos) << rep.load.detail;
    }
    {
        test::temp_dir d;  // a journal went missing
        write_journal(d.path(), 2, 10, 5);
        open_report rep;
        EXPECT_EQ(open_err(d.path(), rep), store_errc::journal_gap);
    }
}

TEST(LeaseStore, DamagedSnapshotIsAnErrorAndRandomBytesNeverCrash) {
    test::temp_dir d;
    {
        auto s = open_ok(d.path());
        for (int i = 1; i <= 20; ++i) s->put_lease(make_lease(i));
        s->compact_now();
        ASSERT_FALSE(s->wait_for_compaction().ec);
    }
    ASSERT_TRUE(fs::exists(snapshot_path(d.path())));
    for (size_t off : {size_t{2}, size_t{40}, fs::file_size(snapshot_path(d.path())) - 3}) {
        flip(snapshot_path(d.path()), off);
        open_report rep;
        EXPECT_EQ(open_err(d.path(), rep), store_errc::corrupt_snapshot) << off;
        EXPECT_NE(rep.load.detail.find("snapshot"), std::string::npos);
        flip(snapshot_path(d.path()), off);  // undo
        auto s = open_ok(d.path());
        EXPECT_EQ(s->leases().size(), 20u);
    }
    // Random bytes as the only journal: its header is not ours, so it is treated as
    // a journal whose creation was cut short - reported and reset, not a crash.
    test::temp_dir e;
    std::vector<uint8_t> junk(5000);
    for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>(i * 131 + 7);
    append_bytes(journal_path(e.path(), 1), junk);
    open_report rep;
    auto s = open_ok(e.path(), &rep);
    EXPECT_EQ(rep.truncated_bytes, 5000u);
    EXPECT_TRUE(s->leases().empty());
    // And as a snapshot: an error.
    test::temp_dir f;
    append_bytes(snapshot_path(f.path()), junk);
    EXPECT_EQ(open_err(f.path(), rep), store_errc::corrupt_snapshot);
}

TEST(LeaseStore, CompactionFoldsJournalsIntoASnapshot) {
    test::temp_dir d;
    store_state expect;
    {
        auto s = open_ok(d.path());
        for (int i = 1; i <= 500; ++i) s->put_lease(make_lease(i));
        for (int i = 1; i <= 500; i += 2) s->erase_lease("vps-" + std::to_string(i));
        s->put_record("egress_policy", "vps-2", R"({"mode":"proxy","port":3128})");
        s->compact_now();
        const auto r = s->wait_for_compaction();
        ASSERT_FALSE(r.ec) << r.ec.message() << r.detail;
        EXPECT_EQ(r.records, 251u);  // 250 leases + 1 record: the erased ones are gone
        EXPECT_EQ(r.folded_journals, 1u);
        s->put_lease(make_lease(1000));  // goes to the new journal
        s->commit();
        expect = s->state();
    }
    directory_listing l;
    ASSERT_FALSE(list_state_directory(d.path(), l));
    EXPECT_TRUE(l.snapshot);
    EXPECT_EQ(l.journals, std::vector<uint64_t>{2});
    open_report rep;
    auto s = open_ok(d.path(), &rep);
    EXPECT_EQ(s->state(), expect);
    EXPECT_EQ(rep.load.snapshot_records, 251u);
    EXPECT_EQ(rep.load.journal_records, 1u);
}

TEST(LeaseStore, CountersFollowTheJournalFileAndEveryFdatasync) {
    // edgegate_lease_store_journal_bytes and _fsync_seconds: the size is the journal
    // file's own, across a rotation; every batch's fdatasync lands in one bucket.
    test::temp_dir d;
    auto s = open_ok(d.path());
    const auto journal_size = [&] {
        directory_listing l;
        EXPECT_FALSE(list_state_directory(d.path(), l));
        return l.journals.empty() ? uint64_t{0} : fs::file_size(journal_path(d.path(), l.journals.back()));
    };
    EXPECT_EQ(s->counters().journal_bytes, journal_size());
    for (int i = 1; i <= 40; ++i) {
        s->put_lease(make_lease(i));
        if (i % 10 == 0) s->commit();
    }
    auto c = s->counters();
    EXPECT_EQ(c.fdatasyncs, 4u);
    uint64_t in_buckets = 0;
    for (uint64_t b : c.fsync_buckets) in_buckets += b;
    EXPECT_EQ(in_buckets, 4u);
    EXPECT_GT(c.fsync_seconds, 0.0);
    EXPECT_EQ(c.journal_bytes, journal_size());
    EXPECT_EQ(c.appended, 40u);
    EXPECT_GT(c.written_bytes, 40u * 70);

    s->compact_now();  // rotation: a new journal with just its header
    ASSERT_FALSE(s->wait_for_compaction().ec);
    EXPECT_EQ(s->counters().journal_bytes, journal_size());
    s->put_lease(make_lease(41));
    s->commit();
    c = s->counters();
    EXPECT_EQ(c.journal_bytes, journal_size());
    EXPECT_LT(c.journal_bytes, 200u);
}

TEST(LeaseStore, CompactionInterruptedAfterAnyStepLosesNothing) {
    // Simulates kill -9 between every two steps of compact_state_directory (the
    // steps are listed in compactor.hpp) and checks a reopen sees the same state
    // and a later compaction still works.
    for (int step = static_cast<int>(compaction_step::read); step <= static_cast<int>(compaction_step::journals_removed);
         ++step) {
        SCOPED_TRACE("stopped after step " + std::to_string(step));
        test::temp_dir d;
        store_state expect;
        uint64_t rotated_from = 0;
        {
            store_options o;
            o.auto_compact = false;
            auto s = open_ok(d.path(), nullptr, o);
            for (int i = 1; i <= 50; ++i) s->put_lease(make_lease(i));
            s->compact_now();  // a first full compaction, so the folded-in snapshot is not the first
            ASSERT_FALSE(s->wait_for_compaction().ec);
            for (int i = 51; i <= 80; ++i) s->put_lease(make_lease(i));
            s->erase_lease("vps-3");
            s->commit();
            rotated_from = newest_journal(d.path());
            expect = s->state();
        }
        // Journal `rotated_from` is complete (the store is closed): make it the
        // folded one by creating the next journal as a rotation would.
        {
            std::vector<uint8_t> h(k_file_header_size);
            store_state tmp;
            directory_listing l;
            ASSERT_FALSE(list_state_directory(d.path(), l));
            load_report lr;
            ASSERT_FALSE(load_state_directory(d.path(), l, UINT64_MAX, false, tmp, lr));
            encode_file_header({file_kind::journal, rotated_from + 1, lr.last_seq}, h.data());
            append_bytes(journal_path(d.path(), rotated_from + 1), h);
        }
        const auto r = compact_state_directory(d.path(), rotated_from, nullptr, static_cast<compaction_step>(step));
        ASSERT_FALSE(r.ec) << r.ec.message();
        {
            open_report rep;
            auto s = open_ok(d.path(), &rep);
            EXPECT_EQ(s->state(), expect);
            EXPECT_EQ(rep.removed_tmp_snapshot, step == 2 || step == 3);
            s->put_lease(make_lease(99));
            s->compact_now();
            ASSERT_FALSE(s->wait_for_compaction().ec);
            expect = s->state();
        }
        auto s = open_ok(d.path());
        EXPECT_EQ(s->state(), expect);
    }
}

TEST(LeaseStore, BackgroundCompactionWhileAppendingKeepsEverything) {
    test::temp_dir d;
    store_state expect;
    uint64_t compactions = 0;
    {
        store_options o;
        o.compact_after_bytes = 16 << 10;
        auto s = open_ok(d.path(), nullptr, o);
        for (int round = 0; round < 60; ++round) {
            for (int i = 0; i < 50; ++i) {
                const int id = (round * 50 + i) % 1200;  // overwrites and erases old ids
                if (i % 7 == 0) {
                    s->erase_lease("vps-" + std::to_string(id));
                } else {
                    lease l = make_lease(id);
                    l.expires_s += round;
                    ASSERT_TRUE(s->put_lease(l));
                }
            }
            ASSERT_FALSE(s->commit().ec);
        }
        s->wait_for_compaction();
        compactions = s->counters().compactions;
        EXPECT_EQ(s->counters().compaction_failures, 0u);
        expect = s->state();
    }
    EXPECT_GE(compactions, 2u);
    auto s = open_ok(d.path());
    EXPECT_EQ(s->state(), expect);
}

TEST(LeaseStore, PoolsAreRebuiltFromLeases) {
    test::temp_dir d;
    auto s = open_ok(d.path());
    lease a = make_lease(10);                       // bound: reserved
    lease b = make_lease(11, lease_state::declined);  // quarantined until expiry
    b.expires_s = 5000;
    lease c = make_lease(12, lease_state::released);  // free again, kept for affinity
    lease e = make_lease(13, lease_state::static_lease);
    e.ipv4 = 0x0b000001;                            // outside every pool: a problem, not fatal
    for (const auto& l : {a, b, c, e}) ASSERT_TRUE(s->put_lease(l));

    pools::ipv4_pool_set v4;
    ASSERT_FALSE(v4.add(0x0a000000, 24));
    pools::ipv6_allocator v6({0x20, 0x01, 0x0d, 0xb8}, {});
    const auto r = restore_pools(s->state(), v4, &v6, 4000);
    EXPECT_EQ(r.ipv4_reserved, 1u);
    EXPECT_EQ(r.ipv4_quarantined, 1u);
    EXPECT_EQ(r.ipv6_bound, 3u);  // not the released one
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_NE(r.problems[0].find("vps-13: 11.0.0.1"), std::string::npos) << r.problems[0];
    using st = pools::ipv4_pool::address_state;
    EXPECT_EQ(v4.state(a.ipv4), st::in_use);
    EXPECT_EQ(v4.state(b.ipv4), st::quarantined);
    EXPECT_EQ(v4.state(c.ipv4), st::free);
    EXPECT_EQ(v6.holder(a.ipv6), "vps-10");
    EXPECT_EQ(v6.allocate("vps-10"), a.ipv6);  // the recorded address, not a new one
    EXPECT_EQ(v4.reclaim_quarantine(5000), 1u);
}

}  // namespace
}  // namespace eg::ctl::leases
