#pragma once
// Loopback-only networking for the browser tests: a free port on 127.0.0.1, waiting until a
// server listens there, and a tiny static HTTP server (Boost.Beast) for pages a test makes up.
// Nothing here ever talks to an address other than 127.0.0.1.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace vmlab_browser {

// A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's choice).
unsigned short free_loopback_port();

// Polls until something accepts connections on 127.0.0.1:`port`; false after `timeout` or as
// soon as `still_starting` returns false (the server exited).
bool wait_for_port(unsigned short port, std::chrono::milliseconds timeout,
                   const std::function<bool()>& still_starting = [] { return true; });

// Serves fixed pages on 127.0.0.1 (a port of its own) from a thread of its own, until it goes
// away. Unknown paths answer 404. Keeps connections alive as browsers expect.
class StaticHttpServer {
public:
    struct Page {
        std::string content_type;
        std::string body;
    };

    explicit StaticHttpServer(std::map<std::string, Page> pages);  // path ("/", "/app.js") -> page
    StaticHttpServer(const StaticHttpServer&) = delete;
    StaticHttpServer& operator=(const StaticHttpServer&) = delete;
    ~StaticHttpServer();

    unsigned short port() const;
    std::string url(const std::string& path = "/") const;  // http://127.0.0.1:PORT/path

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace vmlab_browser
