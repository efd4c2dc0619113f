using System.Runtime.CompilerServices;
using CatsDogs.ML.Features;

namespace CatsDogs.ML.Tests;

internal static class ModuleSetup
{
    // Every trainer and loaded model in the tests uses the build-local cache unless a test says otherwise, so the
    // tests never read a user's cache and a clean clone starts cold.
    [ModuleInitializer]
    internal static void UseBuildLocalCache()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(FeatureCache.DirectoryVariable)))
        {
            Environment.SetEnvironmentVariable(FeatureCache.DirectoryVariable, TestEnvironment.CacheDirectory);
        }
    }

    // Many tests wait synchronously on async work (processes, HTTP, the RabbitMQ client) while the harness fills the
    // thread pool with feature extraction; the pool then adds a thread about every half second, and a broker test's
    // client once waited so long for one that RabbitMQ closed its connection for a missed handshake (10 s). Enough
    // threads from the start keep the tests' own waits from starving each other.
    [ModuleInitializer]
    internal static void EnoughPoolThreads()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 64), Math.Max(io, 64));
    }
}
