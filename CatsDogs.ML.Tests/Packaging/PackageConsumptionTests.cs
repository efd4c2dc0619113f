using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Packaging;

/// <summary>
/// The package route end to end: pack CatsDogs.ML into a local folder feed, add it to a fresh console app outside the
/// solution with <c>dotnet add package</c>, build, train on 200 real photos and predict one; then build the sample CLI
/// against the package instead of the project. Each run packs a unique version, so no cached package is reused.
/// </summary>
public class PackageConsumptionTests(ITestOutputHelper output)
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    [HarnessFact]
    [Trait("Category", Category.Packaging)]
    public void PackedLibrary_WorksWhenReferencedFromAFeed_DeliversResNet18_AndExplainsAMissingRuntime()
    {
        var dataDir = TestEnvironment.DataDirectory;
        using var work = TestEnvironment.NewTempDirectory();
        var version = "0.3.0-ci." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", CultureInfo.InvariantCulture);
        var feed = work.File("feed");
        var root = TestEnvironment.RepositoryRoot;

        Dotnet(root, "pack", Path.Combine(root, "CatsDogs.ML", "CatsDogs.ML.csproj"), "-c", Configuration, "--no-build", "-o", feed, $"-p:Version={version}");
        var nupkg = Path.Combine(feed, $"CatsDogs.ML.{version}.nupkg");
        Assert.True(File.Exists(Path.Combine(feed, $"CatsDogs.ML.{version}.snupkg")), "no symbols package");
        using (var zip = ZipFile.OpenRead(nupkg))
        {
            var entries = zip.Entries.Select(e => e.FullName).ToArray();
            output.WriteLine($"{Path.GetFileName(nupkg)}: {new FileInfo(nupkg).Length / 1024} KiB; {string.Join(", ", entries)}");
            foreach (var expected in new[] { "README.md", "lib/net10.0/CatsDogs.ML.dll", "lib/net10.0/CatsDogs.ML.xml", "buildTransitive/CatsDogs.ML.targets", "build/CatsDogs.ML.targets", "models/backbones.json" })
            {
                Assert.Contains(expected, entries);
            }

            Assert.DoesNotContain(entries, e => e.EndsWith(".onnx", StringComparison.Ordinal)); // ResNet18 comes from its own package
            using var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
            var manifest = nuspec.ReadToEnd();
            Assert.Contains("<license type=\"expression\">MIT</license>", manifest, StringComparison.Ordinal);
            Assert.Contains("<readme>README.md</readme>", manifest, StringComparison.Ordinal);
            Assert.Contains("Microsoft.ML.DnnImageFeaturizer.ResNet18", manifest, StringComparison.Ordinal);
        }

        // A fresh console app that knows nothing of this repository.
        var app = work.File("app");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="catsdogs-local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "app.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), ReadmeAppSnippet());
        Dotnet(app, "add", "package", "CatsDogs.ML", "--version", version);
        Dotnet(app, "build", "-c", "Release");
        var bin = Path.Combine(app, "bin", "Release", "net10.0");
        Assert.True(File.Exists(Path.Combine(bin, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx")), "the default backbone did not reach the app's output");
        Assert.True(File.Exists(Path.Combine(bin, "DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx")));

        var run = Dotnet(app, "run", "-c", "Release", "--no-build", "--", dataDir, work.File("cache"));
        Assert.Matches(@"P\(dog\) of dog\.\d+\.jpg = [01]\.\d{3}", run);

        // Without ONNX Runtime's native library the app gets an actionable message, not a crash.
        foreach (var native in Directory.GetFiles(bin, "libonnxruntime*", SearchOption.AllDirectories).Concat(Directory.GetFiles(bin, "onnxruntime*.dll", SearchOption.AllDirectories)))
        {
            File.Delete(native);
        }

        var (code, text) = Run(app, "run", "-c", "Release", "--no-build", "--", dataDir, work.File("cache2"));
        output.WriteLine(text);
        Assert.NotEqual(0, code);
        Assert.Contains("Microsoft.ML.OnnxRuntime", text, StringComparison.Ordinal);

        // The sample CLI builds against the packages instead of the projects (its broker commands need the broker package).
        Dotnet(root, "pack", Path.Combine(root, "CatsDogs.ML.RabbitMQ", "CatsDogs.ML.RabbitMQ.csproj"), "-c", Configuration, "--no-build", "-o", feed, $"-p:Version={version}");
        var artifacts = work.File("cli-artifacts");
        Dotnet(root, "build", Path.Combine(root, "samples", "CatsDogs.Cli", "CatsDogs.Cli.csproj"), "-c", "Release", "--artifacts-path", artifacts,
            $"-p:CatsDogsPackageVersion={version}", $"-p:RestoreAdditionalProjectSources={feed}");
        var assets = File.ReadAllText(Directory.GetFiles(artifacts, "project.assets.json", SearchOption.AllDirectories).Single());
        Assert.Contains($"\"CatsDogs.ML/{version}\"", assets, StringComparison.Ordinal);
        Assert.Contains($"\"CatsDogs.ML.RabbitMQ/{version}\"", assets, StringComparison.Ordinal);
    }

    [HarnessFact]
    [Trait("Category", Category.Packaging)]
    public void CliBuiltWithTheGpuRuntime_RunsOnCuda_OrFallsBackToCpuWithOneNoticeNamingTheCause()
    {
        Skip.IfNot(RuntimeInformation.RuntimeIdentifier is "linux-x64" or "win-x64", "ONNX Runtime's CUDA build exists for linux-x64 and win-x64 only");
        var dataDir = TestEnvironment.DataDirectory;
        using var work = TestEnvironment.NewTempDirectory();
        var root = TestEnvironment.RepositoryRoot;
        var artifacts = work.File("gpu-artifacts");
        Dotnet(root, "build", Path.Combine(root, "samples", "CatsDogs.Cli", "CatsDogs.Cli.csproj"), "-c", "Release", "--artifacts-path", artifacts, "-p:OnnxRuntime=gpu");
        var cli = Path.Combine(artifacts, "bin", "CatsDogs.Cli", "release", "catsdogs.dll");
        var provider = OperatingSystem.IsWindows() ? "onnxruntime_providers_cuda.dll" : "libonnxruntime_providers_cuda.so";
        Assert.NotEmpty(Directory.GetFiles(Path.GetDirectoryName(cli)!, provider, SearchOption.AllDirectories)); // only the GPU package ships it

        var photos = work.File("photos");
        Directory.CreateDirectory(photos);
        foreach (var name in Enumerable.Range(1, 12).SelectMany(i => new[] { $"cat.{i}.jpg", $"dog.{i}.jpg" }))
        {
            File.Copy(Path.Combine(dataDir, name), Path.Combine(photos, name));
        }

        var model = work.File("model.zip");
        var cache = work.File("cache");
        var train = Dotnet(root, cli, "train", photos, "--out", model, "--device", "cuda:0", "--folds", "3", "--cache", cache);
        var onCpu = Dotnet(root, cli, "predict", model, photos, "--out", work.File("cpu.csv"), "--no-cache");
        var onCuda = Dotnet(root, cli, "predict", model, photos, "--out", work.File("cuda.csv"), "--device", "cuda:0", "--no-cache");
        output.WriteLine(onCuda);
        Assert.DoesNotContain("[E:onnxruntime", train + onCuda, StringComparison.Ordinal); // ORT's own error log stays quiet
        Assert.Contains("resnet18 on CPU", onCpu, StringComparison.Ordinal);
        double[] Probabilities(string csv) => File.ReadLines(csv).Skip(1).Select(l => double.Parse(l.Split(',')[1], CultureInfo.InvariantCulture)).ToArray();
        var (cpu, cuda) = (Probabilities(work.File("cpu.csv")), Probabilities(work.File("cuda.csv")));
        Assert.Equal(24, cpu.Length);
        if (onCuda.Contains("resnet18 on CUDA:0", StringComparison.Ordinal))
        {
            Assert.DoesNotContain("notice:", onCuda, StringComparison.Ordinal);
            Assert.Equal(cpu, cuda, new Tolerance(1e-3)); // GPU kernels round differently
        }
        else
        {
            // No usable GPU here: one notice line with the loader's or ONNX Runtime's reason and the fix; same numbers.
            var notices = onCuda.Split('\n').Where(l => l.StartsWith("notice:", StringComparison.Ordinal)).ToArray();
            Assert.Single(notices);
            Assert.Matches(@"^notice: CUDA device 0 is not usable \(.+\); running on CPU\. For CUDA, .*CUDA 13", notices[0]);
            Assert.Contains("resnet18 on CPU", onCuda, StringComparison.Ordinal);
            Assert.Equal(cpu, cuda);
        }
    }

    // The "use it from your app" program of the README, verbatim.
    private static string ReadmeAppSnippet()
    {
        var readme = File.ReadAllText(Path.Combine(TestEnvironment.RepositoryRoot, "docs", "packaging.md"));
        const string Start = "<!-- app:start -->";
        var from = readme.IndexOf(Start, StringComparison.Ordinal);
        Assert.True(from >= 0, "docs/packaging.md has no app snippet");
        var code = readme[(from + Start.Length)..readme.IndexOf("<!-- app:end -->", StringComparison.Ordinal)];
        return code.Replace("```csharp", "", StringComparison.Ordinal).Replace("```", "", StringComparison.Ordinal);
    }

    private string Dotnet(string directory, params string[] args)
    {
        var (code, text) = Run(directory, args);
        Assert.True(code == 0, $"dotnet {string.Join(' ', args)} exited {code}:\n{text}");
        return text;
    }

    private (int Code, string Output) Run(string directory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // The test host's MSBuild settings must not leak into the child builds.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToArray())
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var text = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (text) { text.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (text) { text.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', args)} did not finish in 5 minutes:\n{text}");
        }

        process.WaitForExit();
        output.WriteLine($"dotnet {string.Join(' ', args.Take(3))} … → {process.ExitCode} in {clock.Elapsed.TotalSeconds:F1} s");
        return (process.ExitCode, text.ToString());
    }
}
