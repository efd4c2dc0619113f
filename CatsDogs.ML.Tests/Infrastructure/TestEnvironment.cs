using Xunit;

namespace CatsDogs.ML.Tests;

/// <summary>The test tiers, as <c>Category</c> traits: run one with <c>dotnet test --filter Category=Unit</c>.</summary>
internal static class Category
{
    /// <summary>Pure logic and tiny synthetic graphs: no real photos, no real models; the whole tier runs in under a minute.</summary>
    public const string Unit = "Unit";

    /// <summary>Real photos and real models: the evaluation harness and everything that needs them.</summary>
    public const string Harness = "Harness";

    /// <summary>Builds and packs: the NuGet package, the GPU build, CLI processes.</summary>
    public const string Packaging = "Packaging";
}

/// <summary>Where the tests find the shared photos and models, and a fresh feature cache per test run's build.</summary>
internal static class TestEnvironment
{
    /// <summary>Overrides the training photos folder (default: ../shared/data/dogs-vs-cats/train beside the repository).</summary>
    public const string DataVariable = "CATSDOGS_DATA_DIR";

    /// <summary>Overrides the shared models folder (default: ../shared/models beside the repository).</summary>
    public const string SharedModelsVariable = "CATSDOGS_SHARED_MODELS_DIR";

    /// <summary>Overrides the other-pets evaluation photos (default: ../shared/data/other-pets).</summary>
    public const string OtherPetsVariable = "CATSDOGS_OTHER_PETS_DIR";

    public static string RepositoryRoot { get; } = FindRoot();

    public static string DataDirectory => FromVariable(DataVariable, "data", "dogs-vs-cats", "train");

    public static string SharedModelsDirectory => FromVariable(SharedModelsVariable, "models");

    public static string OtherPetsDirectory => FromVariable(OtherPetsVariable, "data", "other-pets");

    /// <summary>A feature cache that lives with this build's output, so a clean clone starts cold.</summary>
    public static string CacheDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "feature-cache");

    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why the real photos and models are not usable here, or null when they are.</summary>
    public static string? MissingRealData
    {
        get
        {
            var missing = new List<string>();
            if (!Directory.Exists(DataDirectory) || !Directory.EnumerateFiles(DataDirectory, "*.jpg").Any())
            {
                missing.Add($"the Dogs vs. Cats photos at '{DataDirectory}' (set {DataVariable})");
            }

            if (!File.Exists(Path.Combine(SharedModelsDirectory, "mobilenet_v2_1.0_224.onnx")))
            {
                missing.Add($"the MobileNet files at '{SharedModelsDirectory}' (set {SharedModelsVariable})");
            }

            if (!Directory.Exists(OtherPetsDirectory))
            {
                missing.Add($"the other-pets photos at '{OtherPetsDirectory}' (set {OtherPetsVariable})");
            }

            return missing.Count == 0 ? null : "Needs " + string.Join(" and ", missing) + ".";
        }
    }

    /// <summary>A new empty folder under the system temp folder, deleted when disposed.</summary>
    public static TempDirectory NewTempDirectory() => new();

    private static string FromVariable(string variable, params string[] sharedPath) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } dir
            ? Path.GetFullPath(dir)
            : Path.GetFullPath(Path.Combine([RepositoryRoot, "..", "shared", .. sharedPath]));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CatsDogs.ML.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No CatsDogs.ML.sln above '{AppContext.BaseDirectory}'.");
    }
}

/// <summary>
/// A test that needs the real photos and models (../shared): skipped, saying what is missing and which variable to
/// set, where they are absent, except with <c>CI=true</c>, where it runs and fails on the missing folder. Supports
/// <c>Skip.If</c> for what a machine cannot do.
/// </summary>
[Xunit.Sdk.XunitTestCaseDiscoverer("Xunit.Sdk.SkippableFactDiscoverer", "Xunit.SkippableFact")]
public sealed class HarnessFactAttribute : FactAttribute
{
    public HarnessFactAttribute()
    {
        if (TestEnvironment.MissingRealData is { } missing && !TestEnvironment.InCi)
        {
            Skip = missing;
        }
    }
}

/// <summary>The theory form of <see cref="HarnessFactAttribute"/>.</summary>
[Xunit.Sdk.XunitTestCaseDiscoverer("Xunit.Sdk.SkippableTheoryDiscoverer", "Xunit.SkippableFact")]
public sealed class HarnessTheoryAttribute : TheoryAttribute
{
    public HarnessTheoryAttribute()
    {
        if (TestEnvironment.MissingRealData is { } missing && !TestEnvironment.InCi)
        {
            Skip = missing;
        }
    }
}

internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "catsdogs-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A test that made a folder unreadable or a FIFO may leave it behind; the temp folder is the OS's to clean.
        }
    }
}

/// <summary>Compares numbers within <c>absolute + relative × max(|x|, |y|)</c>: the tests' one comparer.</summary>
internal sealed class Tolerance(double absolute, double relative = 0) : IEqualityComparer<float>, IEqualityComparer<double>
{
    public bool Equals(double x, double y) => Math.Abs(x - y) <= absolute + (relative * Math.Max(Math.Abs(x), Math.Abs(y)));

    public bool Equals(float x, float y) => Equals((double)x, y);

    public int GetHashCode(double obj) => 0;

    public int GetHashCode(float obj) => 0;
}
