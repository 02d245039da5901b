// The gateway's DHCP service (control/dhcp_service): a real config, a real lease store
// in a temporary directory (fdatasync and its sync thread included), DHCP frames built
// byte by byte (dhcp_test_messages.hpp) fed to on_frame, replies read back from the
// frames it hands to send(). ACKs must wait for the store's durability report, which
// arrives through the io_context; a "restart" is a second service over the same
// directory.
#include "control/dhcp_service.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "control/dhcp/message.hpp"
#include "tests/unit/control/dhcp/dhcp_test_messages.hpp"
#include "tests/unit/control/leases/temp_dir.hpp"

namespace eg::ctl {
namespace {

using namespace eg::test;
using namespace eg::test::dhcp;

const mac_t k_port_mac = mac("02:00:00:00:00:01");
const mac_t k_vm1 = mac("02:00:00:00:01:01");      // [[vms]] vm1: reserved 192.168.100.11
const mac_t k_guest = mac("52:54:00:00:00:0a");    // not a VM: pool address
const mac_t k_guest2 = mac("52:54:00:00:00:0b");
const ip4_t k_server = ip4("192.168.100.1");
const ip4_t k_zero = ip4("0.0.0.0"), k_bcast = ip4("255.255.255.255");

std::string config_text(const std::string& state_dir) {
    return R"(
[[ports]]
name = "vm"
role = "vm"
backend = "memory"
ipv4 = ["192.168.100.1/24"]
mtu = 1500

[[ports]]
name = "up"
role = "uplink"
backend = "memory"
ipv4 = ["203.0.113.1/24"]

[nat]
public_addresses = ["203.0.113.1"]

[[vms]]
name = "vm1"
mac = "02:00:00:00:01:01"
ipv4 = "192.168.100.11"

[dhcp]
state_dir = ")" + state_dir + R"("

[[dhcp.networks]]
port = "vm"
pool = ["192.168.100.100-192.168.100.110"]
lease_time_s = 600
dns = ["203.0.113.2"]
domain = "lab.example"
)";
}

struct reply {
    mac_t dst_mac{}, src_mac{};
    uint32_t src_ip = 0, dst_ip = 0;
    uint16_t sport = 0, dport = 0;
    ctl::dhcp::message m;
};

/// Reads a frame the service sent: Ethernet + IPv4 + UDP + DHCP (checksums included).
std::optional<reply> read_reply(const std::vector<uint8_t>& f) {
    if (f.size() < 14 + 20 + 8 || get16(f.data() + 12) != 0x0800) return std::nullopt;
    const uint8_t* ip = f.data() + 14;
    const size_t ihl = (ip[0] & 0xf) * 4u;
    if (!checksum_ok(ip, ihl) || ip[9] != 17) return std::nullopt;
    const uint8_t* u = ip + ihl;
    const size_t ulen = get16(u + 4);
    reply r;
    std::copy(f.begin(), f.begin() + 6, r.dst_mac.begin());
    std::copy(f.begin() + 6, f.begin() + 12, r.src_mac.begin());
    r.src_ip = get32(ip + 12);
    r.dst_ip = get32(ip + 16);
    r.sport = get16(u);
    r.dport = get16(u + 2);
    if (ctl::dhcp::parse_message(std::span<const uint8_t>(u + 8, ulen - 8), r.m) != ctl::dhcp::parse_error::none)
        return std::nullopt;
    return r;
}

class DhcpService : public ::testing::Test {
protected:
    void SetUp() override {
        const auto r = cfg::load_string(config_text((dir_.path() / "leases").string()), "test.toml");
        ASSERT_TRUE(r.value) << (r.errors.empty() ? "" : r.errors.front().to_string());
        config_ = *r.value;
        start();
    }

    void start() {
        svc_.reset();
        svc_ = std::make_unique<dhcp_service>(
            config_, io_, [](uint16_t) { return dp::mac_bytes(k_port_mac); },
            [this](uint16_t port, std::span<const uint8_t> f) {
                ports_.push_back(port);
                sent_.emplace_back(f.begin(), f.end());
            },
            [this](std::string_view line) { log_.emplace_back(line); });
    }

    /// Runs the io_context (the control thread's turn) until `n` frames were sent or 5 s passed.
    bool wait_for_frames(size_t n) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (sent_.size() < n && std::chrono::steady_clock::now() < deadline) {
            io_.restart();
            io_.poll();
            if (sent_.size() < n) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        return sent_.size() >= n;
    }

    void send(const mac_t& chaddr, uint8_t type, std::vector<option> extra, uint32_t xid, ip4_t ciaddr = {},
              ip4_t src = ip4("0.0.0.0"), ip4_t dst = ip4("255.255.255.255")) {
        dhcp_spec s;
        s.xid = xid;
        s.chaddr = chaddr;
        s.ciaddr = ciaddr;
        s.options.push_back({53, u8v(type)});
        for (auto& o : extra) s.options.push_back(std::move(o));
        s.options.push_back({55, bytes{1, 3, 6, 15, 26, 28}});
        const bytes f = dhcp_frame(dhcp_payload(s), chaddr, src, src == k_zero ? k_broadcast : k_port_mac, dst);
        svc_->on_frame(0, f, now_);
    }

    reply last() {
        auto r = read_reply(sent_.back());
        EXPECT_TRUE(r) << "the last frame sent is not a DHCP reply";
        return r.value_or(reply{});
    }

    /// DISCOVER -> OFFER -> REQUEST -> ACK; returns the ACK.
    reply dora(const mac_t& client, uint32_t xid) {
        const size_t before = sent_.size();
        send(client, 1, {}, xid);
        EXPECT_EQ(sent_.size(), before + 1) << "an OFFER goes out at once";
        const reply offer = last();
        EXPECT_EQ(offer.m.type(), ctl::dhcp::message_type::offer);
        ip4_t yi;
        for (int i = 0; i < 4; ++i) yi[i] = static_cast<uint8_t>(offer.m.h.yiaddr >> (24 - 8 * i));
        send(client, 3, {{54, ipv(k_server)}, {50, ipv(yi)}}, xid);
        // The ACK waits for the binding's fdatasync: nothing is sent before the
        // io_context runs the store's durability report.
        EXPECT_EQ(sent_.size(), before + 1) << "an ACK left before its lease was durable";
        EXPECT_TRUE(wait_for_frames(before + 2)) << "no ACK within 5 s";
        return last();
    }

    temp_dir dir_;
    cfg::config config_;
    boost::asio::io_context io_;
    std::unique_ptr<dhcp_service> svc_;
    std::vector<std::vector<uint8_t>> sent_;
    std::vector<uint16_t> ports_;
    std::vector<std::string> log_;
    uint64_t now_ = dhcp_service::clock_s();
};

TEST_F(DhcpService, ReservedVmGetsItsAddressAckedAfterFsync) {
    const reply ack = dora(k_vm1, 0x1111);
    EXPECT_EQ(ack.m.type(), ctl::dhcp::message_type::ack);
    EXPECT_EQ(ack.m.h.yiaddr, host_order(ip4("192.168.100.11")));
    EXPECT_EQ(ack.m.h.xid, 0x1111u);
    // Framing: from the port's MAC and the server address, UDP 67 -> 68, to the client's
    // MAC without ARP (RFC 2131 §4.1: no broadcast flag, no ciaddr).
    EXPECT_EQ(ack.src_mac, k_port_mac);
    EXPECT_EQ(ack.dst_mac, k_vm1);
    EXPECT_EQ(ack.src_ip, host_order(k_server));
    EXPECT_EQ(ack.sport, 67);
    EXPECT_EQ(ack.dport, 68);
    EXPECT_EQ(ports_.back(), 0);
    // Options from the config: router = the port's address (default), DNS, domain, MTU.
    EXPECT_EQ(ack.m.options.u32(3), host_order(k_server));
    EXPECT_EQ(ack.m.options.u32(6), host_order(ip4("203.0.113.2")));
    EXPECT_EQ(ack.m.options.u32(51), 600u);
    EXPECT_EQ(ack.m.options.u16(26), 1500);
    const auto dom = ack.m.options.get(15);
    EXPECT_EQ(std::string(dom.begin(), dom.end()), "lab.example");
    // The binding is in the store and durable.
    const auto* l = svc_->store().find_by_ipv4(host_order(ip4("192.168.100.11")));
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(l->mac, dp::mac_bytes(k_vm1));
    EXPECT_EQ(l->state, leases::lease_state::bound);
    EXPECT_EQ(svc_->server().count(ctl::dhcp::counter::tx_ack), 1u);
    EXPECT_GE(svc_->server().count(ctl::dhcp::counter::replies_held), 1u);
}

TEST_F(DhcpService, DynamicClientSurvivesARestart) {
    const reply ack = dora(k_guest, 0x2222);
    ASSERT_EQ(ack.m.type(), ctl::dhcp::message_type::ack);
    const uint32_t addr = ack.m.h.yiaddr;
    EXPECT_GE(addr, host_order(ip4("192.168.100.100")));
    EXPECT_LE(addr, host_order(ip4("192.168.100.110")));
    // Not a [[vms]] MAC: the binding admits it to the data plane (runtime slot 0).
    bool admitted = false;
    for (const auto& line : log_) admitted |= line.find("admitted to the data plane") != std::string::npos;
    EXPECT_TRUE(admitted);
    ASSERT_EQ(svc_->admissions().admitted(), 1u);
    EXPECT_EQ(svc_->admissions().slot_of(k_guest, addr), 0u);
    ASSERT_EQ(svc_->runtime_vms().size(), 1u);
    EXPECT_TRUE(svc_->runtime_vms()[0].admitted);
    EXPECT_EQ(svc_->runtime_vms()[0].ipv4, addr);
    // The reserved [[vms]] MAC is the config's own: no runtime slot.
    dora(k_vm1, 0x2223);
    EXPECT_EQ(svc_->admissions().admitted(), 1u);

    // Restart: a new service replays the same directory, the binding admitted again.
    start();
    EXPECT_EQ(svc_->admissions().slot_of(k_guest, addr), 0u);
    const auto* l = svc_->store().find_by_ipv4(addr);
    ASSERT_NE(l, nullptr) << "the binding did not survive the restart";
    EXPECT_EQ(l->mac, dp::mac_bytes(k_guest));

    // INIT-REBOOT (option 50, no server id, ciaddr 0): known from the store -> ACK.
    ip4_t a;
    for (int i = 0; i < 4; ++i) a[i] = static_cast<uint8_t>(addr >> (24 - 8 * i));
    const size_t before = sent_.size();
    send(k_guest, 3, {{50, ipv(a)}}, 0x3333);
    ASSERT_TRUE(wait_for_frames(before + 1));
    EXPECT_EQ(last().m.type(), ctl::dhcp::message_type::ack);
    EXPECT_EQ(last().m.h.yiaddr, addr);

    // Another client does not get the address the first one holds.
    const reply other = dora(k_guest2, 0x4444);
    EXPECT_EQ(other.m.type(), ctl::dhcp::message_type::ack);
    EXPECT_NE(other.m.h.yiaddr, addr);

    // RELEASE (unicast from the bound address): the record stays, released, durable.
    const size_t sent_before = sent_.size();
    send(k_guest, 7, {{54, ipv(k_server)}}, 0x5555, a, a, k_server);
    EXPECT_EQ(sent_.size(), sent_before);  // no reply to a RELEASE
    EXPECT_FALSE(svc_->admissions().slot_of(k_guest, addr)) << "a released lease still admits its VM";
    start();                               // the destructor commits what is pending
    EXPECT_FALSE(svc_->admissions().slot_of(k_guest, addr));
    const auto* rel = svc_->store().find_lease(leases::store_lease_book::binding_key(
        host_order(ip4("192.168.100.0")), ctl::dhcp::client_key::from_mac(k_guest)));
    ASSERT_NE(rel, nullptr);
    EXPECT_EQ(rel->state, leases::lease_state::released);
    EXPECT_EQ(svc_->store().find_by_ipv4(addr), nullptr);
}

TEST_F(DhcpService, MetricsCountMessagesBindingsAndFsyncs) {
    const metrics::dhcp_stats zero = svc_->dhcp_counters(now_);
    EXPECT_EQ(zero.rx_discover, 0u);
    EXPECT_EQ(zero.leases_active, 0u);
    const uint64_t syncs_before = svc_->store().counters().fdatasyncs;

    const reply ack = dora(k_guest, 0x6001);
    ASSERT_EQ(ack.m.type(), ctl::dhcp::message_type::ack);
    metrics::dhcp_stats d = svc_->dhcp_counters(now_ + 1);  // a new second: live leases recounted
    EXPECT_EQ(d.rx_discover, 1u);
    EXPECT_EQ(d.tx_offer, 1u);
    EXPECT_EQ(d.rx_request, 1u);
    EXPECT_EQ(d.request_selecting, 1u);
    EXPECT_EQ(d.tx_ack, 1u);
    EXPECT_EQ(d.allocations, 1u);
    EXPECT_EQ(d.bindings, 1u);
    EXPECT_EQ(d.leases_active, 1u);
    EXPECT_EQ(d.replies_held, 0u) << "the ACK left, nothing waits";
    ASSERT_EQ(d.drops.size(), static_cast<size_t>(ctl::dhcp::drop_reason::count));

    // The binding's fdatasync is in the histogram; the journal's size is the file's.
    const metrics::lease_store_stats st = svc_->lease_store_counters();
    uint64_t fsyncs = 0;
    for (uint64_t b : st.fsync_buckets) fsyncs += b;
    EXPECT_EQ(st.fsync_buckets.size(), st.fsync_bounds_s.size() + 1);
    EXPECT_GE(fsyncs, 1u);
    EXPECT_EQ(fsyncs, svc_->store().counters().fdatasyncs - syncs_before);
    EXPECT_GE(st.records, 1u);
    std::uintmax_t on_disk = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path() / "leases")) {
        if (e.path().filename().string().starts_with("journal-")) on_disk = e.file_size();
    }
    EXPECT_EQ(st.journal_bytes, on_disk);
    EXPECT_GT(st.journal_bytes, 32u);

    // RENEWING (unicast, ciaddr): the binding is extended, not a new allocation.
    ip4_t a;
    for (int i = 0; i < 4; ++i) a[i] = static_cast<uint8_t>(ack.m.h.yiaddr >> (24 - 8 * i));
    size_t before = sent_.size();
    send(k_guest, 3, {}, 0x6002, a, a, k_server);
    ASSERT_TRUE(wait_for_frames(before + 1));
    EXPECT_EQ(last().m.type(), ctl::dhcp::message_type::ack);
    d = svc_->dhcp_counters(now_ + 1);
    EXPECT_EQ(d.request_renewing, 1u);
    EXPECT_EQ(d.tx_ack, 2u);
    EXPECT_EQ(d.bindings, 2u);
    EXPECT_EQ(d.allocations, 1u);

    // A REQUEST for an address the client cannot have: NAK.
    before = sent_.size();
    send(k_guest2, 3, {{50, ipv(ip4("10.9.9.9"))}}, 0x6003);
    ASSERT_EQ(sent_.size(), before + 1);
    EXPECT_EQ(last().m.type(), ctl::dhcp::message_type::nak);
    // RELEASE: counted, and the lease is no longer active (at the next recount).
    send(k_guest, 7, {{54, ipv(k_server)}}, 0x6004, a, a, k_server);
    d = svc_->dhcp_counters(now_ + 2);
    EXPECT_EQ(d.tx_nak, 1u);
    EXPECT_EQ(d.rx_release, 1u);
    EXPECT_EQ(d.releases, 1u);
    EXPECT_EQ(d.leases_active, 0u);
}

TEST_F(DhcpService, AStormOfBindingsIsSummedUpInTheLog) {
    // More than k_lease_lines_per_s (100) bindings in a second: one line each for the
    // first 100 of the second, then one summary line with the count of the rest.
    const reply ack = dora(k_guest, 0x7001);
    ASSERT_EQ(ack.m.type(), ctl::dhcp::message_type::ack);
    ip4_t a;
    for (int i = 0; i < 4; ++i) a[i] = static_cast<uint8_t>(ack.m.h.yiaddr >> (24 - 8 * i));
    const uint64_t t0 = dhcp_service::clock_s();
    log_.clear();
    const int renewals = 250;
    const size_t before = sent_.size();
    for (int i = 0; i < renewals; ++i) send(k_guest, 3, {}, 0x7100 + i, a, a, k_server);  // RENEWING
    const uint64_t t1 = dhcp_service::clock_s();
    ASSERT_TRUE(wait_for_frames(before + renewals)) << "the renewals are ACKed";
    // The summary of the last second is written by the first tick of a later second.
    while (dhcp_service::clock_s() == t1) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    svc_->on_tick(now_);
    uint64_t lines = 0, summed = 0;
    for (const auto& line : log_) {
        if (line.find(" bound (") != std::string::npos) ++lines;
        if (const auto at = line.find(" more lines of bindings"); at != std::string::npos) {
            summed += std::stoull(line.substr(6, at - 6));  // "dhcp: N more lines ..."
        }
    }
    EXPECT_EQ(lines + summed, static_cast<uint64_t>(renewals)) << "every binding is a line or counted in one";
    EXPECT_LE(lines, 100 * (t1 - t0 + 1)) << "at most 100 binding lines per second";
    EXPECT_EQ(svc_->server().count(ctl::dhcp::counter::leases_bound), static_cast<uint64_t>(renewals + 1));
}

TEST_F(DhcpService, BindingsPublishASnapshotWithTheirVm) {
    // The gateway's side: publish() builds from runtime_vms() and reports the token.
    std::vector<std::vector<runtime_vm>> published;
    std::vector<std::shared_ptr<int>> snapshots;  // what the "workers" still hold
    std::set<uint32_t> busy;
    svc_->set_data_plane(
        [&] {
            published.push_back(svc_->runtime_vms());
            snapshots.push_back(std::make_shared<int>(0));
            svc_->published(snapshots.back());
        },
        [&](uint32_t slot) { return busy.contains(slot); });
    const reply ack = dora(k_guest, 0x2222);
    ASSERT_EQ(ack.m.type(), ctl::dhcp::message_type::ack);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (published.empty() && std::chrono::steady_clock::now() < deadline) {
        io_.restart();
        io_.poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_FALSE(published.empty()) << "no snapshot was published for the new binding";
    ASSERT_EQ(published.back().size(), 1u);
    EXPECT_TRUE(published.back()[0].admitted);
    EXPECT_EQ(published.back()[0].ipv4, ack.m.h.yiaddr);
    EXPECT_FALSE(svc_->admissions().dirty());

    // Released, with a session left and the old snapshot still held: another client
    // gets a new slot, not the released one.
    ip4_t a;
    for (int i = 0; i < 4; ++i) a[i] = static_cast<uint8_t>(ack.m.h.yiaddr >> (24 - 8 * i));
    send(k_guest, 7, {{54, ipv(k_server)}}, 0x2223, a, a, k_server);
    busy.insert(0);
    const reply other = dora(k_guest2, 0x2224);
    ASSERT_EQ(other.m.type(), ctl::dhcp::message_type::ack);
    EXPECT_EQ(svc_->admissions().slot_of(k_guest2, other.m.h.yiaddr), 1u);
    svc_->set_data_plane({}, {});  // the hooks' captures end with this test body
}

TEST_F(DhcpService, ExpiredLeaseNoLongerAdmitsItsVm) {
    const reply ack = dora(k_guest, 0x2222);
    ASSERT_EQ(ack.m.type(), ctl::dhcp::message_type::ack);
    const uint32_t addr = ack.m.h.yiaddr;
    ASSERT_TRUE(svc_->admissions().slot_of(k_guest, addr));
    svc_->on_tick(now_ + 599);
    EXPECT_TRUE(svc_->admissions().slot_of(k_guest, addr)) << "withdrawn before the lease ended";
    svc_->on_tick(now_ + 601);  // lease_time_s = 600
    EXPECT_FALSE(svc_->admissions().slot_of(k_guest, addr));
    // The slot is kept (not admitted) for the sessions the VM may still have.
    ASSERT_EQ(svc_->runtime_vms().size(), 1u);
    EXPECT_FALSE(svc_->runtime_vms()[0].admitted);
}

TEST_F(DhcpService, AnAllocatedAddressIsHandedToItsMac) {
    // The platform allocates for the guest's MAC; the guest's DHCP client then gets
    // exactly that address, its binding is the allocation's record, and releasing the
    // lease keeps the allocation.
    const auto o = svc_->create_allocation("vps-7", "org-1", k_guest, "", now_);
    ASSERT_EQ(o.error, allocations::errc::ok) << o.message;
    const uint32_t allocated = o.record->ipv4;
    EXPECT_TRUE(svc_->admissions().slot_of(k_guest, allocated)) << "admitted before any DHCP";
    // Another client never gets it.
    for (uint8_t i = 0; i < 3; ++i) {
        const reply other = dora(mac_t{0x52, 0x54, 0, 0, 2, i}, 0x700u + i);
        EXPECT_NE(other.m.h.yiaddr, allocated);
    }
    const reply ack = dora(k_guest, 0x7777);
    ASSERT_EQ(ack.m.type(), ctl::dhcp::message_type::ack);
    EXPECT_EQ(ack.m.h.yiaddr, allocated);
    const auto* rec = svc_->store().find_lease("vps-7");
    ASSERT_NE(rec, nullptr);
    EXPECT_EQ(rec->state, leases::lease_state::bound);
    EXPECT_EQ(rec->organization_id, "org-1");
    EXPECT_EQ(svc_->store().find_by_ipv4(allocated), rec) << "one record holds the address";

    // Restart: the client's INIT-REBOOT is ACKed from the allocation's record.
    start();
    ip4_t a;
    for (int i = 0; i < 4; ++i) a[i] = static_cast<uint8_t>(allocated >> (24 - 8 * i));
    size_t before = sent_.size();
    send(k_guest, 3, {{50, ipv(a)}}, 0x7778);
    ASSERT_TRUE(wait_for_frames(before + 1));
    EXPECT_EQ(last().m.type(), ctl::dhcp::message_type::ack);
    EXPECT_EQ(last().m.h.yiaddr, allocated);

    // RELEASE: the lease ends, the allocation (and its admission) stays.
    before = sent_.size();
    send(k_guest, 7, {{54, ipv(k_server)}}, 0x7779, a, a, k_server);
    ASSERT_NE(svc_->store().find_lease("vps-7"), nullptr);
    EXPECT_EQ(svc_->store().find_lease("vps-7")->state, leases::lease_state::static_lease);
    EXPECT_TRUE(svc_->admissions().slot_of(k_guest, allocated));

    // Deleting the allocation frees the address and ends the admission.
    const auto gone = svc_->remove_allocation("vps-7");
    ASSERT_EQ(gone.error, allocations::errc::ok);
    EXPECT_FALSE(svc_->admissions().slot_of(k_guest, allocated));
    EXPECT_EQ(svc_->book().reserved_address(host_order(ip4("192.168.100.0")), k_guest), std::nullopt);
}

TEST_F(DhcpService, ADeletedAllocationsClientDoesNotFollowItsVpsId) {
    // The book finds a bound allocation by its DHCP client through an index it keeps in
    // step with the record's client_id (no scan over every bound allocation). When the
    // allocation is deleted the client's entry goes with it - before and after a
    // restart - so a new allocation under the same vps_id for another MAC is not the
    // old client's.
    const uint32_t net = host_order(ip4("192.168.100.0"));
    const auto guest = ctl::dhcp::client_key::from_mac(k_guest);
    const mac_t other_mac{0x52, 0x54, 0, 0, 9, 9};
    for (const bool restart : {false, true}) {
        SCOPED_TRACE(restart ? "deleted after a restart" : "deleted before any restart");
        const auto o = svc_->create_allocation("vps-7", "org-1", k_guest, "", now_);
        ASSERT_EQ(o.error, allocations::errc::ok) << o.message;
        ASSERT_EQ(dora(k_guest, restart ? 0x7101 : 0x7001).m.h.yiaddr, o.record->ipv4);
        ASSERT_TRUE(svc_->book().find_by_client(net, guest, now_));
        EXPECT_EQ(svc_->book().find_by_client(net, guest, now_)->address, o.record->ipv4);
        if (restart) start();
        ASSERT_TRUE(svc_->book().find_by_client(net, guest, now_)) << "the index is rebuilt from the records";
        ASSERT_EQ(svc_->remove_allocation("vps-7").error, allocations::errc::ok);
        EXPECT_FALSE(svc_->book().find_by_client(net, guest, now_) &&
                     svc_->book().find_by_client(net, guest, now_)->state == ctl::dhcp::lease_state::bound);
        const auto again = svc_->create_allocation("vps-7", "org-2", other_mac, "", now_);
        ASSERT_EQ(again.error, allocations::errc::ok) << again.message;
        const auto found = svc_->book().find_by_client(net, guest, now_);
        EXPECT_FALSE(found && found->address == again.record->ipv4) << "the old client follows vps-7";
        ASSERT_EQ(svc_->remove_allocation("vps-7").error, allocations::errc::ok);
    }
    EXPECT_EQ(svc_->allocs().count(), 0u);
}

TEST_F(DhcpService, AnAllocationMayTakeTheAddressOfALeaseThatRanOut) {
    // Every pool address (.100-.110) bound, then all leases run out: their records still
    // name the addresses, but an allocation takes one (and the store keeps one holder).
    for (uint8_t i = 0; i < 11; ++i) {
        ASSERT_EQ(dora(mac_t{0x52, 0x54, 0, 0, 3, i}, 0x900u + i).m.type(), ctl::dhcp::message_type::ack);
    }
    EXPECT_EQ(svc_->create_allocation("vps-x", "org", k_guest, "", now_).error, allocations::errc::exhausted);
    svc_->on_tick(now_ + 601);
    const auto o = svc_->create_allocation("vps-x", "org", k_guest, "", now_ + 601);
    ASSERT_EQ(o.error, allocations::errc::ok) << o.message;
    EXPECT_EQ(svc_->store().find_by_ipv4(o.record->ipv4)->vps_id, "vps-x");
}

TEST_F(DhcpService, OffersExpireAndThePoolRunsOut) {
    // 11 pool addresses (.100-.110): 11 clients get offers, the 12th none.
    for (uint8_t i = 0; i < 12; ++i) {
        send(mac_t{0x52, 0x54, 0, 0, 1, i}, 1, {}, 0x100u + i);
    }
    EXPECT_EQ(sent_.size(), 11u);
    EXPECT_EQ(svc_->server().count(ctl::dhcp::counter::pool_exhausted), 1u);
    EXPECT_EQ(svc_->book().available(host_order(ip4("192.168.100.0"))), 0u);
    // Holds are 30 s: after that the tick frees them all.
    svc_->on_tick(now_ + 31);
    EXPECT_EQ(svc_->book().available(host_order(ip4("192.168.100.0"))), 11u);
    EXPECT_EQ(svc_->book().holds(), 0u);
}

TEST_F(DhcpService, ChecksumLeftToOffloadIsCompleted) {
    // A client's kernel socket over a veth leaves the UDP checksum to offload: the field
    // holds only the pseudo-header sum and the punted frame says so (needs_csum).
    dhcp_spec s;
    s.chaddr = k_guest;
    s.ciaddr = ip4("192.168.100.100");
    s.options = {{53, u8v(8)}};  // INFORM, unicast from a configured client
    bytes f = dhcp_frame(dhcp_payload(s), k_guest, ip4("192.168.100.100"), k_port_mac, k_server);
    const size_t udp_at = 14 + 20;
    const uint16_t udp_len = get16(f.data() + udp_at + 4);
    set16(f.data() + udp_at + 6,
          static_cast<uint16_t>(pseudo_sum(ip4("192.168.100.100"), k_server, 17, udp_len)));
    svc_->on_frame(0, f, now_);
    EXPECT_TRUE(sent_.empty()) << "a wrong checksum was accepted without the offload flag";
    EXPECT_EQ(svc_->server().frame_errors(ctl::dhcp::frame_error::bad_udp_checksum), 1u);

    dp::offload_info o;
    o.needs_csum = 1;
    o.csum_start = static_cast<uint16_t>(udp_at);
    o.csum_offset = 6;
    svc_->on_frame(0, f, now_, o);
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(last().m.type(), ctl::dhcp::message_type::ack);
    EXPECT_EQ(last().dst_ip, host_order(ip4("192.168.100.100")));
}

TEST(DhcpServiceOpen, UnusableStateDirIsAnErrorNamingIt) {
    temp_dir dir;
    const std::string file = (dir.path() / "not-a-dir").string();
    std::ofstream(file) << "x";
    const auto r = cfg::load_string(config_text(file), "test.toml");
    ASSERT_TRUE(r.value);
    boost::asio::io_context io;
    try {
        dhcp_service svc(*r.value, io, [](uint16_t) { return dp::mac_bytes{}; }, [](uint16_t, std::span<const uint8_t>) {},
                         [](std::string_view) {});
        FAIL() << "opened a lease store in a regular file";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot open the lease store in " + file), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace eg::ctl
