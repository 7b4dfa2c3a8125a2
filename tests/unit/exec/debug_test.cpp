#include "lamina/exec/debug.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace lamina;
using namespace lamina::exec;

TEST(Debug, ParsesFunctionQualifierAndPort) {
    auto t = parse_debug_target("orders:PROD=5678");
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->function, "orders");
    EXPECT_EQ(t->qualifier, "PROD");
    EXPECT_EQ(t->port, 5678);
    auto any = parse_debug_target("my-fn_2=9229");
    ASSERT_TRUE(any.has_value());
    EXPECT_EQ(any->function, "my-fn_2");
    EXPECT_EQ(any->qualifier, "");
    auto latest = parse_debug_target("f:$LATEST=1");
    ASSERT_TRUE(latest.has_value());
    EXPECT_EQ(latest->qualifier, "$LATEST");
}

TEST(Debug, RefusesMalformedEntries) {
    for (const char* bad : {"", "fn", "fn=", "=5678", "fn=0", "fn=65536", "fn=12x", "fn:=5678",
                            "arn:aws:lambda:us-east-1:123456789012:function:f=5678", "a b=1"}) {
        auto t = parse_debug_target(bad);
        ASSERT_FALSE(t.has_value()) << bad;
        EXPECT_NE(t.error().message.find("FUNCTION[:QUALIFIER]=PORT"), std::string::npos) << bad;
    }
}

TEST(Debug, FlagEntriesWinQualifiedFirstThenTheVariable) {
    std::vector<DebugTarget> targets = {{"f", "", 1000}, {"f", "PROD", 2000}, {"g", "", 3000}};
    control::VersionConfig c;
    auto d = debug_launch_for(targets, true, "f", "PROD", c);
    ASSERT_TRUE(d.has_value() && d->has_value());
    EXPECT_EQ((*d)->port, 2000);
    EXPECT_TRUE((*d)->wait);
    EXPECT_EQ((*d)->source, "--debug");
    d = debug_launch_for(targets, false, "f", "", c);
    EXPECT_EQ((*d)->port, 1000);
    EXPECT_FALSE((*d)->wait);
    d = debug_launch_for(targets, false, "h", "", c);
    ASSERT_TRUE(d.has_value());
    EXPECT_FALSE(d->has_value());

    c.environment = std::map<std::string, std::string>{{"LAMINA_DEBUG_PORT", "5678"}};
    d = debug_launch_for({}, true, "h", "", c);  // --debug-wait is for --debug entries
    ASSERT_TRUE(d.has_value() && d->has_value());
    EXPECT_EQ((*d)->port, 5678);
    EXPECT_FALSE((*d)->wait);
    EXPECT_EQ((*d)->source, "LAMINA_DEBUG_PORT");
    (*c.environment)["LAMINA_DEBUG_WAIT"] = "true";
    EXPECT_TRUE((*debug_launch_for({}, false, "h", "", c))->wait);
    d = debug_launch_for(targets, false, "f", "", c);  // a flag entry wins
    EXPECT_EQ((*d)->port, 1000);

    (*c.environment)["LAMINA_DEBUG_PORT"] = "";
    EXPECT_FALSE(debug_launch_for({}, false, "h", "", c)->has_value());
    (*c.environment)["LAMINA_DEBUG_PORT"] = "nope";
    auto bad = debug_launch_for({}, false, "h", "", c);
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error().message.find("LAMINA_DEBUG_PORT must be a port number"),
              std::string::npos);
}

TEST(Debug, SeesAnEstablishedConnectionToThePortOnly) {
    // /proc/net/tcp: a listener on 127.0.0.1:5678 (0A), a client connected to it (01, both ends)
    const std::string table =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:162E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 0 "
        "1\n";
    EXPECT_FALSE(client_connected_in(table, 5678));
    const std::string connected =
        table +
        "   1: 0100007F:162E 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0 0 2\n"
        "   2: 0100007F:A1B2 0100007F:162E 01 00000000:00000000 00:00000000 00000000     0 0 3\n";
    EXPECT_TRUE(client_connected_in(connected, 5678));
    EXPECT_FALSE(client_connected_in(connected, 0xA1B3));
    EXPECT_FALSE(client_connected_in("", 5678));
    // the same port on another local address is not the debugger's listener
    EXPECT_FALSE(client_connected_in(
        table + "   1: 0A00000A:162E 0A000001:A1B2 01 00000000:00000000 00:00000000 0 0 0 2\n",
        5678));
    // a connection that is closing (TIME_WAIT, 06) is not a debugger
    EXPECT_FALSE(client_connected_in(
        table + "   1: 0100007F:162E 0100007F:A1B2 06 00000000:00000000 00:00000000 0 0 0 2\n",
        5678));
}

TEST(Debug, APortHeldByAListenerIsNotFree) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(fd, 1), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    int port = ntohs(a.sin_port);
    auto held = check_port_free(port);
    ASSERT_FALSE(held.has_value());
    EXPECT_NE(held.error().message.find("127.0.0.1:" + std::to_string(port) + " is in use"),
              std::string::npos);
    ::close(fd);
    EXPECT_TRUE(check_port_free(port).has_value());
}
