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
}
