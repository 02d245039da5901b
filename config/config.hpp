#pragma once
// edgegate's configuration: plain typed structs (the schema), their defaults, and the
// one entry point that parses and validates a TOML file into them.
//
// Schema-first and all-or-nothing: load() returns a complete, validated config or a
// list of errors, each naming `key.path (line N): message`. Nothing here knows about
// the data plane; control/ compiles this into the Snapshot.
// Includes nothing of ours (DESIGN.md "dependencies").
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace eg::cfg {

/// An IPv4 or IPv6 address in network byte order (IPv4 uses the first 4 bytes).
struct ip_address {
    bool v6 = false;
    std::array<uint8_t, 16> bytes{};
    friend bool operator==(const ip_address&, const ip_address&) = default;
};

/// An address with a prefix length, e.g. 192.168.100.1/24 (host bits kept).
struct ip_prefix {
    ip_address addr;
    uint8_t length = 0;
    friend bool operator==(const ip_prefix&, const ip_prefix&) = default;
};

using mac_address = std::array<uint8_t, 6>;

enum class port_role { vm, uplink };
enum class backend_kind { uring, dpdk, memory, pcap };

/// Router advertisements sent on a `vm` port (RFC 4861 §6.2.1 defaults).
struct router_advertisement_config {
    bool enabled = true;               ///< only meaningful where the port has IPv6
    uint32_t interval_s = 200;         ///< unsolicited RA period (MaxRtrAdvInterval)
    uint32_t router_lifetime_s = 1800; ///< 0 = "not a default router"
    std::vector<ip_prefix> prefixes;   ///< on-link prefixes advertised (no SLAAC: A=0)
    bool autonomous = false;           ///< set the A flag on the advertised prefixes
    friend bool operator==(const router_advertisement_config&, const router_advertisement_config&) = default;
};

struct port_config {
    std::string name;                  ///< unique; referenced by routes
    port_role role = port_role::vm;
    backend_kind backend = backend_kind::uring;
    std::string interface;             ///< kernel interface (uring), PCI/vdev devargs (dpdk)
    uint32_t mtu = 1500;               ///< L3 MTU, 576..9000
    std::optional<mac_address> mac;    ///< default: the interface's own address
    std::vector<ip_prefix> ipv4;       ///< gateway addresses + connected prefixes
    std::vector<ip_prefix> ipv6;
    bool nd_proxy = false;             ///< default true for uplink ports with IPv6
    router_advertisement_config router_advertisements;
    std::string pcap_input;            ///< pcap backend: capture read as input
    std::string pcap_output;           ///< pcap backend: where sent frames are written
    int line = 0;                      ///< line of the [[ports]] table, for messages
    friend bool operator==(const port_config&, const port_config&) = default;
};

struct route_config {
    ip_prefix prefix;
    std::optional<ip_address> via;     ///< next hop; absent = on-link through `port`
    std::string port;                  ///< required when `via` is absent
    int line = 0;
    friend bool operator==(const route_config&, const route_config&) = default;
};

struct workers_config {
    uint32_t count = 1;
    std::vector<uint32_t> cores;       ///< empty = not pinned; else one core per worker
    uint32_t burst_size = 32;          ///< 1..64
    uint32_t idle_poll_us = 200;       ///< busy-poll this long before sleeping on fds
    uint32_t idle_nap_us = 0;          ///< within idle_poll_us, nap after an empty poll (0 = spin)
    uint32_t idle_nap_min_pps = 0;     ///< nap while receiving at least this many packets/s
    uint32_t idle_nap_min_mbps = 0;    ///< ... or this many megabits/s (both 0: always nap)
    friend bool operator==(const workers_config&, const workers_config&) = default;
};

struct host_config {
    bool enabled = false;
    std::string interface = "eg-host"; ///< the TAP device created for the host kernel
    std::optional<mac_address> mac;    ///< the engine's MAC on the TAP link
    friend bool operator==(const host_config&, const host_config&) = default;
};

struct neighbour_config {
    uint32_t reachable_s = 300;        ///< an entry lives this long without refresh
    uint32_t retransmit_ms = 1000;     ///< ARP/NS retry interval while resolving
    uint32_t max_probes = 3;           ///< then the entry fails and its queue drops
    uint32_t queue_per_neighbour = 16; ///< packets held while resolving one address
    uint32_t capacity = 65536;         ///< entries in the neighbour table
    friend bool operator==(const neighbour_config&, const neighbour_config&) = default;
};

struct icmp_config {
    uint32_t errors_per_second = 1000; ///< per worker, token bucket (RFC 1812 §4.3.2.8)
    friend bool operator==(const icmp_config&, const icmp_config&) = default;
};

struct uring_config {
    uint32_t ring_entries = 512;       ///< io_uring submission queue size per worker
    uint32_t rx_buffers = 1024;        ///< receive-ring slots per port and worker (each buffer_size)
    uint32_t buffer_size = 65600;      ///< bytes per buffer: room for a 64 KB GSO packet
    friend bool operator==(const uring_config&, const uring_config&) = default;
};

struct dpdk_config {
    std::vector<std::string> eal_args = {"--no-huge", "-m", "512", "--no-pci"};
    uint32_t mbufs = 8191;
    uint32_t rx_descriptors = 1024;
    uint32_t tx_descriptors = 1024;
    friend bool operator==(const dpdk_config&, const dpdk_config&) = default;
};

/// How a VM's IPv4 egress leaves (README "NAT44 and egress policies").
enum class egress_policy { masquerade, dedicated, port_block, proxy };
/// RFC 4787 filtering of inbound packets to a mapping.
enum class nat_filtering { endpoint_independent, address_and_port_dependent };

/// Idle timeouts in seconds (RFC 5382 REQ-5, RFC 4787 REQ-5, RFC 5508 REQ-1 minimums).
struct nat_timeouts_config {
    uint32_t tcp_established_s = 7440; ///< >= 7440 (2 h 4 min)
    uint32_t tcp_transitory_s = 240;   ///< SYN-only, FIN/RST seen
    uint32_t udp_s = 120;              ///< >= 120
    uint32_t icmp_s = 60;              ///< >= 60
    friend bool operator==(const nat_timeouts_config&, const nat_timeouts_config&) = default;
};

/// A static port forward: public address + port range, TCP or UDP, to a VM address.
struct nat_forward_config {
    uint8_t protocol = 6;              ///< 6 tcp, 17 udp
    ip_address public_address;         ///< one of nat.public_addresses
    uint16_t port_first = 0;           ///< public ports port_first..port_last
    uint16_t port_last = 0;
    ip_address to;                     ///< the VM's address (must be a [[vms]] address)
    uint16_t to_port = 0;              ///< first target port; the range maps 1:1
    int line = 0;
    /// The last target port (to_port for the last public port).
    uint32_t to_port_last() const { return to_port + uint32_t(port_last - port_first); }
    friend bool operator==(const nat_forward_config&, const nat_forward_config&) = default;
};

/// Two forwards onto the same VM ports (one protocol, one `to`, overlapping target
/// ports): the data plane finds a reply's forward by the VM's address and source port
/// (forwards are stateless), so only one of them may have those ports.
inline bool same_target(const nat_forward_config& a, const nat_forward_config& b) {
    return a.protocol == b.protocol && a.to == b.to && a.to_port <= b.to_port_last() && b.to_port <= a.to_port_last();
}

/// The RFC 7422 deterministic port blocks: block k is first_port + k*size ..
struct nat_port_blocks_config {
    std::optional<ip_address> address; ///< default: the first nat.public_addresses entry
    uint16_t first_port = 61440;
    uint16_t block_size = 512;
    friend bool operator==(const nat_port_blocks_config&, const nat_port_blocks_config&) = default;
};

/// The upstream proxy the `proxy` egress policy steers to.
struct nat_proxy_config {
    std::optional<ip_address> service; ///< address VMs send their proxy traffic to
    uint16_t service_port = 3128;
    std::optional<ip_address> upstream; ///< the upstream proxy host; port = the VM's proxy_port
    friend bool operator==(const nat_proxy_config&, const nat_proxy_config&) = default;
};

struct nat_config {
    bool enabled = false;              ///< true when the [nat] table is present
    std::vector<ip_address> public_addresses;  ///< masquerade pool (paired: one per VM)
    uint16_t port_first = 1024;        ///< dynamic port range (per address and protocol)
    uint16_t port_last = 61439;
    nat_filtering filtering = nat_filtering::endpoint_independent;
    uint32_t max_sessions = 262144;    ///< per worker: flow table size, fixed memory
    uint32_t sessions_per_vm = 16384;  ///< per VM (all workers together); 0 = unlimited
    /// VMs the NAT can hold: the [[vms]] plus those admitted at runtime (DHCP leases,
    /// API allocations). Per-worker per-VM state is sized to this at start-up.
    uint32_t max_vms = 65536;
    bool anti_spoofing = true;         ///< VM ports accept IPv4 only from [[vms]] bindings
    std::string log_file;              ///< mapping log (session create/delete); empty = off
    nat_timeouts_config timeouts;
    nat_port_blocks_config port_blocks;
    nat_proxy_config proxy;
    std::vector<nat_forward_config> forwards;
    friend bool operator==(const nat_config&, const nat_config&) = default;
};

/// A VM known to the gateway: its (MAC, IPv4) binding and its egress policy.
struct vm_config {
    std::string name;
    mac_address mac{};
    ip_address ipv4;
    /// Its dedicated global IPv6 address (a /128): routed to this MAC on the vm port of
    /// its ipv4, and its IPv6 anti-spoofing binding. None: the VM has no IPv6 binding.
    std::optional<ip_address> ipv6;
    egress_policy egress = egress_policy::masquerade;
    std::optional<ip_address> public_address; ///< dedicated: the VM's own public IPv4
    uint32_t port_block = 0;           ///< port_block: the block index k
    uint16_t proxy_port = 0;           ///< proxy: the VM's port on nat.proxy.upstream (0: its organization's)
    /// proxy: the user (organization or user id) whose proxy-port assignment the VM
    /// uses ([proxy_ports]); empty = the VM's own proxy_port, unmanaged.
    std::string organization_id;
    bool proxy_force = false;          ///< proxy: refuse all other egress (ICMP 3/13)
    uint32_t max_sessions = 0;         ///< 0 = nat.sessions_per_vm
    int line = 0;
    friend bool operator==(const vm_config&, const vm_config&) = default;
};

/// An RFC 3442 classless static route handed to DHCP clients (option 121).
struct dhcp_route_config {
    ip_prefix prefix;                  ///< destination, host bits zero
    ip_address via;                    ///< router, inside the network
    friend bool operator==(const dhcp_route_config&, const dhcp_route_config&) = default;
};

/// One DHCP network: the clients on one vm port ([[dhcp.networks]]).
struct dhcp_network_config {
    std::string port;                  ///< a vm port's name
    /// Dynamic addresses: inclusive ranges inside one connected prefix of the port
    /// (a prefix "a.b.c.d/n" is written as its whole range). Host order [first, last].
    std::vector<std::pair<uint32_t, uint32_t>> pool;
    uint32_t lease_time_s = 3600;
    std::vector<ip_address> routers;   ///< empty: the port's own address in the network
    std::vector<ip_address> dns;
    std::string domain;
    uint32_t mtu = 0;                  ///< 0: the port's MTU
    std::vector<dhcp_route_config> classless_routes;
    /// The /64 the API's allocations take each VM's dedicated IPv6 /128 from; none:
    /// allocations get no IPv6.
    std::optional<ip_prefix> ipv6_prefix;
    int line = 0;
    friend bool operator==(const dhcp_network_config&, const dhcp_network_config&) = default;
};

/// The DHCPv4 server (README "DHCP server"). Reservations come from [[vms]].
struct dhcp_config {
    bool enabled = false;              ///< true when the [dhcp] table is present
    std::string state_dir = "/var/lib/edgegate";  ///< the lease store's directory
    std::vector<dhcp_network_config> networks;
    friend bool operator==(const dhcp_config&, const dhcp_config&) = default;
};

/// An address and TCP port a control-plane server listens on ("127.0.0.1:1537",
/// "[::1]:1537"). IP literals only: a listener must not depend on name resolution.
struct listen_address {
    ip_address address;
    uint16_t port = 0;
};

/// The admin HTTP API (README "Admin API"). Present only with an [api] table.
struct api_config {
    bool enabled = false;              ///< true when the [api] table is present
    listen_address listen{{false, {127, 0, 0, 1}}, 1537};
    std::string secret;                ///< x-api-secret value, from `secret` or read from `secret_file`
    std::string secret_file;           ///< where the secret came from, when it was a file
    uint32_t max_body_bytes = 65536;   ///< larger request bodies are refused with 413
    uint32_t request_timeout_ms = 5000;///< a request (or an idle keep-alive) longer than this is cut off
};

/// The Prometheus exposer (README "Metrics"). Present only with a [metrics] table.
struct metrics_config {
    bool enabled = false;              ///< true when the [metrics] table is present, unless enabled = false
    listen_address listen{{false, {127, 0, 0, 1}}, 9091};
};

using wg_key = std::array<uint8_t, 32>;

/// A WireGuard peer of a tunnel ([[wireguard.peers]], README "WireGuard").
struct wireguard_peer_config {
    std::string name;                  ///< for logs and the API; default: the public key
    wg_key public_key{};
    bool has_preshared_key = false;
    wg_key preshared_key{};            ///< read from preshared_key_file
    std::string preshared_key_file;
    std::vector<ip_prefix> allowed_ips;///< host bits zero; routed into the tunnel
    std::optional<ip_address> endpoint;///< IPv4 or IPv6 address we send to until the peer roams
    uint16_t endpoint_port = 0;
    uint32_t persistent_keepalive_s = 0;  ///< 0 = off
    int line = 0;
    friend bool operator==(const wireguard_peer_config&, const wireguard_peer_config&) = default;
};

/// A WireGuard tunnel terminated by the gateway ([[wireguard]]).
struct wireguard_config {
    std::string name;                  ///< "wg0"
    std::string private_key_file;      ///< base64 key as `wg genkey` writes it
    wg_key private_key{};              ///< read from private_key_file at load
    ip_address address;                ///< our IPv4 address the tunnel listens on (an uplink address)
    std::optional<ip_address> address6;///< our IPv6 address it also listens on (an uplink address)
    uint16_t listen_port = 51820;
    uint32_t mtu = 1420;               ///< inner MTU: larger packets get frag-needed / packet-too-big
    bool mss_clamp = true;             ///< clamp TCP MSS of SYNs through the tunnel to fit mtu
    uint32_t under_load_handshakes_per_s = 1000;  ///< above: answer with cookies (mac2 required)
    uint32_t rekey_after_time_s = 120;  ///< REKEY_AFTER_TIME as initiator; lower only to test rekeying
    std::vector<wireguard_peer_config> peers;
    int line = 0;
    friend bool operator==(const wireguard_config&, const wireguard_config&) = default;
};

/// Decodes a WireGuard key: 44 characters of standard base64 for 32 bytes.
std::optional<wg_key> decode_wg_key(std::string_view base64);
/// The 44-character base64 text of a key.
std::string encode_wg_key(const wg_key& key);

/// Proxy-port assignment ([proxy_ports], README "Proxy ports and health probes"): each
/// user gets a port of [first, last] on nat.proxy.upstream, sticky and persisted.
struct proxy_ports_config {
    bool enabled = false;              ///< true when the [proxy_ports] table is present
    uint16_t first = 10001, last = 19999;
    /// The lease store holding the assignments: [dhcp]'s state_dir when DHCP runs
    /// (one store per directory), else this.
    std::string state_dir = "/var/lib/edgegate";
    friend bool operator==(const proxy_ports_config&, const proxy_ports_config&) = default;
};

/// Health probes of the assigned proxy ports ([probes]): an HTTP GET of `url` through
/// nat.proxy.upstream:port from the host exception path.
struct probes_config {
    bool enabled = false;              ///< true when the [probes] table is present
    uint32_t interval_ms = 10000;
    uint32_t timeout_ms = 3000;
    uint32_t jitter_pct = 10;          ///< each interval is interval_ms +- this percentage
    uint32_t max_per_second = 20;      ///< probes started per second, all ports together
    uint32_t rise = 2;                 ///< consecutive successes to become healthy (HAProxy)
    uint32_t fall = 3;                 ///< consecutive failures to become unhealthy
    std::string url;                   ///< http://HOST[:PORT]/PATH of an IP-echo service
    std::optional<ip_address> expect_address;  ///< the exit address the echo must show
    friend bool operator==(const probes_config&, const probes_config&) = default;
};

struct gateway_config {
    std::string name = "edgegate";
    uint32_t status_interval_s = 5;    ///< status line period on stderr; 0 = off
    friend bool operator==(const gateway_config&, const gateway_config&) = default;
};

struct config {
    gateway_config gateway;
    workers_config workers;
    std::vector<port_config> ports;
    std::vector<route_config> routes;
    host_config host;
    neighbour_config neighbours;
    icmp_config icmp;
    uring_config uring;
    dpdk_config dpdk;
    nat_config nat;
    std::vector<vm_config> vms;
    dhcp_config dhcp;
    api_config api;
    metrics_config metrics;
    std::vector<wireguard_config> wireguard;
    proxy_ports_config proxy_ports;
    probes_config probes;
    std::string source_path;
};

/// One problem found in a config file.
struct error {
    std::string key;   ///< dotted path, e.g. "ports[1].mtu"
    int line = 0;      ///< 0 when not known (whole-file problems)
    std::string message;
    /// "ports[1].mtu (line 12): must be between 576 and 9000"
    std::string to_string() const;
};

struct load_result {
    std::optional<config> value;   ///< set only when errors is empty
    std::vector<error> errors;
};

/// Parses and validates a whole file. Never throws.
load_result load_file(const std::string& path);
/// Same, from TOML text (source_name is used in messages and source_path).
load_result load_string(std::string_view toml_text, const std::string& source_name = "<string>");

/// Text helpers shared with the admin API and tools.
std::optional<ip_address> parse_ip(std::string_view text);
std::optional<ip_prefix> parse_prefix(std::string_view text);
std::optional<mac_address> parse_mac(std::string_view text);
std::string to_string(const ip_address& a);
std::string to_string(const ip_prefix& p);
std::string to_string(const mac_address& m);
/// "127.0.0.1:1537", "[::1]:1537"
std::string to_string(const listen_address& l);
/// An organization (or user) id as proxy-port assignments and the admin API take it:
/// 1..128 characters of A-Z a-z 0-9 . _ - : @ (it is a URL path segment as well).
bool valid_organization_id(std::string_view id);
/// True if `a` lies inside `p` (same family).
bool contains(const ip_prefix& p, const ip_address& a);
/// `p` with its host bits cleared (10.9.0.1/24 -> 10.9.0.0/24).
ip_prefix network_of(const ip_prefix& p);
/// True if the two prefixes share an address (same family, one contains the other).
bool overlaps(const ip_prefix& a, const ip_prefix& b);

}  // namespace eg::cfg
