// Quiescent-state RCU publishing (dataplane/rcu.hpp): objects carry a destructor that
// records their deletion, so the tests see exactly when the publisher frees them.
#include "dataplane/rcu.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace eg::dp {
namespace {

struct tracked {
    tracked(int v, std::vector<std::atomic<bool>>* deleted) : value(v), deleted_(deleted) {}
    ~tracked() { (*deleted_)[static_cast<size_t>(value)].store(true); }
    int value;
    std::vector<std::atomic<bool>>* deleted_;
};

class Rcu : public ::testing::Test {
protected:
    std::unique_ptr<tracked> make(int v) { return std::make_unique<tracked>(v, &deleted); }
    bool freed(int v) const { return deleted[static_cast<size_t>(v)].load(); }
    std::vector<std::atomic<bool>> deleted = std::vector<std::atomic<bool>>(100000);
};

TEST_F(Rcu, PublishThenAcquire) {
    rcu_publisher<tracked> pub(1);
    EXPECT_EQ(pub.acquire(), nullptr);
    pub.publish(make(1));
    ASSERT_NE(pub.acquire(), nullptr);
    EXPECT_EQ(pub.acquire()->value, 1);
    pub.publish(make(2));
    EXPECT_EQ(pub.acquire()->value, 2);
}

TEST_F(Rcu, OldObjectLivesUntilEveryOnlineReaderIsQuiescent) {
    rcu_publisher<tracked> pub(2);
    pub.publish(make(1));
    pub.go_online(0);
    pub.go_online(1);
    const tracked* held0 = pub.acquire();
    const tracked* held1 = pub.acquire();
    pub.publish(make(2));
    EXPECT_FALSE(freed(1));
    EXPECT_EQ(pub.retired_count(), 1u);
    EXPECT_EQ(held0->value, 1);  // still readable

    pub.quiescent(0);
    pub.reclaim();
    EXPECT_FALSE(freed(1)) << "reader 1 has not passed a quiescent point";
    EXPECT_EQ(held1->value, 1);

    pub.quiescent(1);
    pub.reclaim();
    EXPECT_TRUE(freed(1));
    EXPECT_EQ(pub.retired_count(), 0u);
    EXPECT_FALSE(freed(2));
    EXPECT_EQ(pub.acquire()->value, 2);
}

TEST_F(Rcu, QuiescentBeforeThePublishDoesNotCount) {
    rcu_publisher<tracked> pub(1);
    pub.publish(make(1));
    pub.go_online(0);
    pub.quiescent(0);
    (void)pub.acquire();
    pub.publish(make(2));
    pub.reclaim();
    EXPECT_FALSE(freed(1));
    pub.publish(make(3));  // two retired now
    EXPECT_EQ(pub.retired_count(), 2u);
    pub.quiescent(0);
    pub.reclaim();
    EXPECT_TRUE(freed(1));
    EXPECT_TRUE(freed(2));
    EXPECT_FALSE(freed(3));
}

TEST_F(Rcu, OfflineReadersDoNotBlockReclamation) {
    rcu_publisher<tracked> pub(3);  // all start offline
    pub.publish(make(1));
    pub.publish(make(2));
    EXPECT_TRUE(freed(1));
    pub.go_online(1);
    (void)pub.acquire();
    pub.publish(make(3));
    EXPECT_FALSE(freed(2));
    pub.go_offline(1);  // about to sleep holding nothing
    pub.reclaim();
    EXPECT_TRUE(freed(2));
    pub.go_online(1);
    pub.publish(make(4));
    EXPECT_FALSE(freed(3));
}

TEST_F(Rcu, DestructorFreesEverything) {
    {
        rcu_publisher<tracked> pub(1);
        pub.go_online(0);
        pub.publish(make(1));
        pub.publish(make(2));
        pub.publish(make(3));
        EXPECT_FALSE(freed(1));
    }
    EXPECT_TRUE(freed(1));
    EXPECT_TRUE(freed(2));
    EXPECT_TRUE(freed(3));
}

// A reader thread checks that the object it holds has not been freed, while the
// publisher keeps replacing and reclaiming.
TEST_F(Rcu, ConcurrentReaderNeverHoldsAFreedObject) {
    constexpr int k_objects = 50000;
    rcu_publisher<tracked> pub(1);
    pub.publish(make(0));
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> violations{0}, bursts{0}, progress{0};
    std::thread reader([&] {
        pub.go_online(0);
        uint64_t n = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            progress.store(n, std::memory_order_relaxed);
            const tracked* t = pub.acquire();
            const int v = t->value;
            for (int spin = 0; spin < 20; ++spin) {
                if (freed(v)) {
                    ++violations;
                    break;
                }
            }
            pub.quiescent(0);
            if (++n % 64 == 0) {
                pub.go_offline(0);
                pub.go_online(0);
            }
        }
        pub.go_offline(0);
        bursts = n;
    });
    while (progress.load() == 0) std::this_thread::yield();
    // Publish all objects, and go on while the reader has done few bursts (bounded).
    for (int i = 1; i < k_objects; ++i) {
        pub.publish(make(i));
        if (i % 16 == 0) pub.reclaim();
        if (i > k_objects / 2 && progress.load(std::memory_order_relaxed) < 10000) std::this_thread::yield();
    }
    stop = true;
    reader.join();
    pub.reclaim();
    EXPECT_EQ(violations.load(), 0u);
    EXPECT_GT(bursts.load(), 0u);
    EXPECT_EQ(pub.retired_count(), 0u);
    EXPECT_TRUE(freed(k_objects - 2));
}

}  // namespace
}  // namespace eg::dp
