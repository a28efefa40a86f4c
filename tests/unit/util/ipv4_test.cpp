#include "vmlab/util/ipv4.hpp"

#include <gtest/gtest.h>

using vmlab::Ipv4;
using vmlab::Ipv4Net;
using vmlab::parse_ipv4;
using vmlab::parse_ipv4_net;
using vmlab::to_string;

namespace {

Ipv4 ip(const char* text) {
    const auto parsed = parse_ipv4(text);
    EXPECT_TRUE(parsed) << text;
    return parsed.value_or(Ipv4{});
}

Ipv4Net net(const char* text) {
    const auto parsed = parse_ipv4_net(text);
    EXPECT_TRUE(parsed) << text;
    return parsed.value_or(Ipv4Net{});
}

}  // namespace

TEST(Ipv4, ParsesDottedQuads) {
    EXPECT_EQ(ip("0.0.0.0").value, 0u);
    EXPECT_EQ(ip("10.210.1.2").value, 0x0ad20102u);
    EXPECT_EQ(ip("255.255.255.255").value, 0xffffffffu);
    EXPECT_EQ(ip("192.168.0.10").value, 0xc0a8000au);
}

TEST(Ipv4, RefusesMalformedAddresses) {
    for (const char* text : {"", "1", "1.2.3", "1.2.3.4.5", "1.2.3.", ".1.2.3", "1..2.3", "256.0.0.1", "1.2.3.256",
                             "1.2.3.4 ", " 1.2.3.4", "1.2.3.-4", "1.2.3.+4", "a.b.c.d", "1.2.3.4/24", "99999999999.1.1.1",
                             "0x1.2.3.4", "1,2,3,4"})
        EXPECT_FALSE(parse_ipv4(text)) << '"' << text << '"';
}

TEST(Ipv4, RefusesLeadingZeros) {
    // "010" reads as octal 8 in inet_aton; refusing it keeps a typo from moving a lab.
    EXPECT_FALSE(parse_ipv4("010.0.0.1"));
    EXPECT_FALSE(parse_ipv4("10.00.0.1"));
    EXPECT_FALSE(parse_ipv4("10.0.0.01"));
    EXPECT_FALSE(parse_ipv4("10.0.0.001"));
    EXPECT_TRUE(parse_ipv4("10.0.0.0"));  // a single zero is fine
}

TEST(Ipv4, PrintsWhatItParses) {
    for (const char* text : {"0.0.0.0", "1.2.3.4", "10.210.0.1", "127.0.0.1", "255.255.255.255", "192.168.100.254"})
        EXPECT_EQ(to_string(ip(text)), text);
    EXPECT_EQ(to_string(Ipv4{0x01020304u}), "1.2.3.4");
}

TEST(Ipv4, ComparesByValue) {
    EXPECT_LT(ip("10.0.0.9"), ip("10.0.0.10"));
    EXPECT_LT(ip("9.255.255.255"), ip("10.0.0.0"));
    EXPECT_EQ(ip("10.0.0.1"), Ipv4{0x0a000001u});
}

TEST(Ipv4Net, ParsesAndPrints) {
    const Ipv4Net n = net("10.210.0.0/16");
    EXPECT_EQ(n.base, ip("10.210.0.0"));
    EXPECT_EQ(n.prefix, 16u);
    EXPECT_EQ(n.size(), 65536u);
    EXPECT_EQ(to_string(n.netmask()), "255.255.0.0");
    EXPECT_EQ(to_string(n.broadcast()), "10.210.255.255");
    EXPECT_EQ(to_string(n.host(1)), "10.210.0.1");
    EXPECT_EQ(to_string(n), "10.210.0.0/16");
}

TEST(Ipv4Net, RefusesHostBitsAndMalformedPrefixes) {
    EXPECT_FALSE(parse_ipv4_net("10.210.0.1/16"));  // host bits set
    EXPECT_FALSE(parse_ipv4_net("10.0.0.128/24"));
    EXPECT_FALSE(parse_ipv4_net("1.0.0.0/0"));
    for (const char* text : {"10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8x", "10.0.0.0/ 8",
                             "/8", "10.0.0/8", "010.0.0.0/8", "10.0.0.0/8/8", "10.0.0.0/4294967304"})
        EXPECT_FALSE(parse_ipv4_net(text)) << '"' << text << '"';
}

TEST(Ipv4Net, WholeAddressSpace) {
    const Ipv4Net all = net("0.0.0.0/0");
    EXPECT_EQ(all.size(), 1ull << 32);
    EXPECT_EQ(all.netmask().value, 0u);
    EXPECT_EQ(to_string(all.broadcast()), "255.255.255.255");
    EXPECT_TRUE(all.contains(ip("0.0.0.0")));
    EXPECT_TRUE(all.contains(ip("255.255.255.255")));
    EXPECT_TRUE(all.overlaps(net("10.0.0.0/8")));
    EXPECT_TRUE(net("10.0.0.0/8").overlaps(all));
}

TEST(Ipv4Net, SingleHost) {
    const Ipv4Net one = net("255.255.255.255/32");
    EXPECT_EQ(one.size(), 1u);
    EXPECT_EQ(to_string(one.netmask()), "255.255.255.255");
    EXPECT_EQ(one.broadcast(), one.base);
    EXPECT_TRUE(one.contains(ip("255.255.255.255")));
    EXPECT_FALSE(one.contains(ip("255.255.255.254")));
    EXPECT_TRUE(one.overlaps(net("255.255.255.0/24")));
    EXPECT_FALSE(one.overlaps(net("255.255.255.254/32")));
}

TEST(Ipv4Net, Contains) {
    const Ipv4Net n = net("192.168.10.0/24");
    EXPECT_TRUE(n.contains(ip("192.168.10.0")));
    EXPECT_TRUE(n.contains(ip("192.168.10.255")));
    EXPECT_FALSE(n.contains(ip("192.168.11.0")));
    EXPECT_FALSE(n.contains(ip("192.168.9.255")));
}

TEST(Ipv4Net, Overlaps) {
    EXPECT_TRUE(net("10.0.0.0/16").overlaps(net("10.0.5.0/24")));
    EXPECT_TRUE(net("10.0.5.0/24").overlaps(net("10.0.0.0/16")));
    EXPECT_TRUE(net("10.0.0.0/24").overlaps(net("10.0.0.0/24")));
    EXPECT_FALSE(net("10.0.0.0/24").overlaps(net("10.0.1.0/24")));
    EXPECT_FALSE(net("10.0.1.0/24").overlaps(net("10.0.0.0/24")));
    EXPECT_FALSE(net("10.0.0.0/25").overlaps(net("10.0.0.128/25")));
    EXPECT_FALSE(net("10.0.0.0/16").overlaps(net("10.1.0.0/16")));
}

TEST(Ipv4Net, Subnets) {
    const Ipv4Net n = net("10.210.0.0/16");
    EXPECT_EQ(n.subnet(24, 0), net("10.210.0.0/24"));
    EXPECT_EQ(n.subnet(24, 1), net("10.210.1.0/24"));
    EXPECT_EQ(n.subnet(24, 255), net("10.210.255.0/24"));
    EXPECT_FALSE(n.subnet(24, 256));             // past the end
    EXPECT_EQ(n.subnet(16, 0), n);               // the network itself
    EXPECT_FALSE(n.subnet(16, 1));
    EXPECT_FALSE(n.subnet(15, 0));               // wider than the network
    EXPECT_FALSE(n.subnet(33, 0));
    EXPECT_EQ(n.subnet(32, 65535), net("10.210.255.255/32"));
    EXPECT_FALSE(n.subnet(32, 65536));
}

TEST(Ipv4Net, SubnetsAtTheEdgesOfTheAddressSpace) {
    const Ipv4Net all = net("0.0.0.0/0");
    EXPECT_EQ(all.subnet(0, 0), all);
    EXPECT_EQ(all.subnet(1, 1), net("128.0.0.0/1"));
    EXPECT_EQ(all.subnet(32, 0xffffffffull), net("255.255.255.255/32"));
    EXPECT_FALSE(all.subnet(32, 1ull << 32));
    const Ipv4Net top = net("255.255.255.0/24");
    EXPECT_EQ(top.subnet(25, 1), net("255.255.255.128/25"));
    EXPECT_EQ(to_string(top.subnet(30, 63)->broadcast()), "255.255.255.255");
}

TEST(Ipv4, PrintsListsInOrder) {
    const std::vector<Ipv4> ips{ip("10.0.1.10"), ip("10.0.0.9")};
    EXPECT_EQ(vmlab::to_strings(ips), (std::vector<std::string>{"10.0.1.10", "10.0.0.9"}));
    EXPECT_EQ(vmlab::join(ips, ","), "10.0.1.10,10.0.0.9");
    EXPECT_EQ(vmlab::join({}, ","), "");
    EXPECT_TRUE(vmlab::to_strings({}).empty());
}
