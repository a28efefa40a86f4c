// The self-service portal (`vmlab serve`, issue #7) in real headless Chromium, against a real lab
// of tiny guests on qemu:///system: an attendee signs in with the seat token (typed, or from the
// link on the seat card), sees the seat, resets it and opens a VM's console; a proctor sees
// the room. Tokens never show in URLs after sign-in, nor in the server's output.
//
// Each case brings up its own 1-seat × 1-VM lab (E2e fixture: isolated network, own state
// database and temp dir) and runs `vmlab serve` on a free loopback port; TearDown stops the
// browser and the server, then removes the lab, also when the test failed.
//
// The pages are driven through the agreed DOM contract:
//   /            #token-input #sign-in #sign-in-error #seat-view #seat-title
//                tr[data-vm=NAME] (.vm-state .vm-ip a.console-link .reset-vm) #reset-seat
//                <dialog> #confirm-yes #confirm-no, #reset-status ("Resetting…", "Ready",
//                "Failed: …"), #sign-out; seat-card link /#token=TOKEN
//   /console.html?vm=NAME   #console-status ("Connected") #screen
//   /proctor     #organizer-token-input #organizer-sign-in #seat-grid tr[data-seat=N]
//                .reset-seat #download-cards

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <string>
#include <vector>

#include "background_process.hpp"
#include "browser_test_support.hpp"
#include "e2e_support.hpp"
#include "loopback.hpp"
#include "webdriver.hpp"

namespace vmlab_e2e {
namespace {

using vmlab_browser::BackgroundProcess;
using vmlab_browser::Browser;
using vmlab_browser::trimmed;

constexpr auto page_timeout = 30s;  // a page shows what the server knows (the server may be slow: TCG guests)
constexpr auto reset_timeout = 180s;  // a seat reset: power off, fresh overlays, boot, lease again
constexpr auto console_connect_timeout = 60s;

std::string lowercase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

class PortalBrowser : public E2e {
protected:
    PortalBrowser() { m_name_prefix = "e2e-portal"; }

    void SetUp() override {
        ASSERT_NO_FATAL_FAILURE(E2e::SetUp());
        const Ran help = vmlab({"serve", "--help"});
        ASSERT_EQ(help.code(), 0) << "this vmlab has no `serve` command (issue #7)\n" << help.report();
    }

    void TearDown() override {
        vmlab_browser::keep_evidence_if_failed(m_browser.get());
        m_browser.reset();
        if (m_server) {
            m_server->stop();
            const std::string out = m_server->out(), err = m_server->err();
            for (const auto& secret : m_secrets) {
                EXPECT_FALSE(contains(err, secret)) << "`vmlab serve` wrote a token to stderr:\n" << err;
                EXPECT_FALSE(contains(out, secret)) << "`vmlab serve` wrote a token to stdout:\n" << out;
            }
            if (HasFailure()) std::cerr << "`" << m_server->command() << "` stderr:\n" << err << '\n';
            m_server.reset();
        }
        E2e::TearDown();  // `vmlab down`, then virsh for anything left
    }

    // A running 1-seat lab with one VM "alpha", its seat assigned (m_seat_token), `vmlab serve`
    // on it, and a browser.
    void bring_up_portal() {
        ASSERT_NO_FATAL_FAILURE(write_lab(1, {"alpha"}));
        const Ran first = up();
        ASSERT_EQ(first.code(), 0) << first.report();
        const Ran assign =
            vmlab({"seats", "assign", m_lab, "--seat", "1", "--name", "Ada Lovelace", "--email", "ada@example.org", "--json"});
        ASSERT_EQ(assign.code(), 0) << assign.report();
        m_seat_token = json::parse(assign.out()).at("seats").at(0).at("token").get<std::string>();
        ASSERT_FALSE(m_seat_token.empty()) << assign.out();
        m_secrets.push_back(m_seat_token);

        m_port = vmlab_browser::free_loopback_port();
        m_server = std::make_unique<BackgroundProcess>(
            std::vector<std::string>{vmlab_binary.string(), "--state", m_state.string(), "-c", uri, "serve", "--listen",
                                     "127.0.0.1:" + std::to_string(m_port), "--lab", m_lab},
            m_dir / "serve.out", m_dir / "serve.err");
        ASSERT_TRUE(vmlab_browser::wait_for_port(m_port, 30s, [&] { return m_server->running(); }))
            << "`" << m_server->command() << "` " << (m_server->running() ? "does not listen after 30 s" : "exited")
            << "; its stderr:\n"
            << m_server->err();

        ASSERT_NO_FATAL_FAILURE(vmlab_browser::start_browser(m_browser));
    }

    std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(m_port) + path; }
    Browser& browser() { return *m_browser; }

    void type_token_and_sign_in(const std::string& token) {
        browser().navigate(url("/"));
        browser().type("#token-input", token, page_timeout);
        browser().click("#sign-in");
    }

    // The seat view lists VM alpha, running, with its planned address, a console link and a
    // reset button. (Waits, not single looks: the page re-renders as the server reports.)
    void expect_seat_view_with_running_alpha() {
        browser().wait_for_visible("#seat-view", page_timeout);
        browser().wait_until("`#seat-title` to name the seat", [&](std::string& seen) {
            const std::string title = trimmed(browser().find("#seat-title").text());
            seen = "`#seat-title` shows \"" + title + "\"";
            return !title.empty();
        }, page_timeout);
        const std::string row = "#seat-view tr[data-vm=\"alpha\"]";
        browser().wait_until("`" + row + " .vm-state` to show running", [&](std::string& seen) {
            const std::string state = trimmed(browser().find(row + " .vm-state").text());
            seen = "state \"" + state + "\"";
            return lowercase(state) == "running";
        }, page_timeout);
        const std::string ip = planned("alpha").ip;
        browser().wait_until("`" + row + " .vm-ip` to show " + ip, [&](std::string& seen) {
            const std::string shown = trimmed(browser().find(row + " .vm-ip").text());
            seen = "address \"" + shown + "\"";
            return has_token(shown, ip);
        }, page_timeout);
        browser().wait_until("`" + row + " a.console-link` to lead to /console.html?vm=alpha", [&](std::string& seen) {
            const json href = browser().find(row + " a.console-link").property("href");
            seen = "href " + href.dump();
            return href == url("/console.html?vm=alpha");
        }, page_timeout);
        browser().wait_for_visible(row + " .reset-vm", page_timeout);
        browser().wait_for_visible("#reset-seat", page_timeout);
        browser().wait_for_visible("#sign-out", page_timeout);
        EXPECT_EQ(browser().find_all("#seat-view tr[data-vm]").size(), 1u) << "the seat has one VM";
    }

    void expect_no_token_in_url(const std::string& token) {
        const std::string now = browser().wait_for_url("hold no token", [&](const std::string& u) { return !contains(u, token); });
        EXPECT_FALSE(contains(now, "token")) << now;
    }

    std::unique_ptr<BackgroundProcess> m_server;
    std::unique_ptr<Browser> m_browser;
    unsigned short m_port = 0;
    std::string m_seat_token;
    std::vector<std::string> m_secrets;  // must never appear in the server's output
};

// Typed sign-in, the seat as libvirt has it, a reset confirmed in the dialog until "Ready",
// the console through noVNC, sign-out.
TEST_F(PortalBrowser, AttendeeSignsInResetsTheSeatAndOpensTheConsole) {
    ASSERT_NO_FATAL_FAILURE(bring_up_portal());

    type_token_and_sign_in(m_seat_token);
    ASSERT_NO_FATAL_FAILURE(expect_seat_view_with_running_alpha());
    expect_no_token_in_url(m_seat_token);

    // Cancel first: nothing happens.
    browser().click("#reset-seat");
    browser().click("#confirm-no");
    browser().wait_for_hidden("#confirm-yes");
    EXPECT_NE(browser().text("#reset-status"), "Resetting…");

    browser().click("#reset-seat");
    browser().click("#confirm-yes");
    std::string status;
    browser().wait_until("`#reset-status` to show Ready (or Failed: …)", [&](std::string& seen) {
        status = browser().text("#reset-status");
        seen = "`#reset-status` shows \"" + status + "\"";
        return status == "Ready" || status.rfind("Failed", 0) == 0;
    }, reset_timeout);
    ASSERT_EQ(status, "Ready");
    ASSERT_NO_FATAL_FAILURE(expect_seat_view_with_running_alpha());
    expect_status_running();
    const Ran log = vmlab({"log", m_lab, "--json"});
    ASSERT_EQ(log.code(), 0) << log.report();
    const json events = json::parse(log.out());
    EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const json& e) {
        return contains(e.value("action", std::string()), "reset") && e.value("result", std::string()) == "ok";
    })) << "no successful reset in the audit log:\n"
        << log.out();

    // The console page (where the row's link leads) connects through noVNC.
    browser().navigate(url("/console.html?vm=alpha"));
    browser().wait_for_text("#console-status", "Connected", console_connect_timeout);
    EXPECT_FALSE(browser().find_all("#screen canvas").empty()) << "noVNC drew no canvas into #screen";
    expect_no_token_in_url(m_seat_token);

    browser().navigate(url("/"));
    browser().click("#sign-out", page_timeout);
    browser().wait_for_visible("#token-input", page_timeout);
    browser().wait_for_hidden("#seat-view");
}

// The link on the seat card carries the token in its fragment: it signs in, and the token
// leaves the address bar.
TEST_F(PortalBrowser, SeatCardLinkSignsInAndTheTokenLeavesTheUrl) {
    ASSERT_NO_FATAL_FAILURE(bring_up_portal());

    browser().navigate(url("/#token=" + m_seat_token));
    ASSERT_NO_FATAL_FAILURE(expect_seat_view_with_running_alpha());
    expect_no_token_in_url(m_seat_token);
    EXPECT_EQ(browser().execute("return location.hash;"), "");
}

TEST_F(PortalBrowser, WrongTokenShowsAnErrorAndNoSeat) {
    ASSERT_NO_FATAL_FAILURE(bring_up_portal());

    std::string wrong = m_seat_token;
    wrong.back() = wrong.back() == 'x' ? 'y' : 'x';
    type_token_and_sign_in(wrong);
    browser().wait_until("`#sign-in-error` to show an error", [&](std::string& seen) {
        const auto error = browser().find("#sign-in-error");
        const std::string text = trimmed(error.text());
        seen = "`#sign-in-error` shows \"" + text + "\"" + (error.displayed() ? "" : " (hidden)");
        return !text.empty() && error.displayed();
    }, page_timeout);
    EXPECT_FALSE(browser().find("#seat-view").displayed());
    for (const auto& row : browser().find_all("tr[data-vm]")) EXPECT_FALSE(row.displayed()) << "a VM of some seat is shown";
    expect_no_token_in_url(wrong);
}

// An organizer token (`vmlab organizer-token NAME --json`) opens the proctor page: the grid
// of seats with a reset button each, and the attendee cards to download.
TEST_F(PortalBrowser, ProctorSeesTheSeatGrid) {
    ASSERT_NO_FATAL_FAILURE(bring_up_portal());
    const Ran issued = vmlab({"organizer-token", "proctor", "--json"});
    ASSERT_EQ(issued.code(), 0) << issued.report();
    const std::string organizer_token = json::parse(issued.out()).at("token").get<std::string>();
    m_secrets.push_back(organizer_token);

    browser().navigate(url("/proctor"));
    browser().type("#organizer-token-input", organizer_token, page_timeout);
    browser().click("#organizer-sign-in");
    const std::string seat = "#seat-grid tr[data-seat=\"1\"]";
    browser().wait_for_visible(seat + " .reset-seat", page_timeout);
    browser().wait_until("`" + seat + "` to name its attendee", [&](std::string& seen) {
        const std::string shown = browser().text(seat);
        seen = "the row shows \"" + shown + "\"";
        return contains(shown, "Ada Lovelace") || contains(shown, "ada@example.org");
    }, page_timeout);
    EXPECT_EQ(browser().find_all("#seat-grid tr[data-seat]").size(), 1u) << "the lab has one seat";
    browser().wait_for_visible("#download-cards", page_timeout);
    expect_no_token_in_url(organizer_token);
}

}  // namespace
}  // namespace vmlab_e2e
