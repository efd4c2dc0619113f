using System.Security.Cryptography;
using Xunit;

namespace CatsDogs.ML.Tests.Cli;

/// <summary>
/// The command line as a process, on bad paths, bad folders, bad options and bad outputs: exit code 1 with one
/// readable line and no stack trace, checked before any work, and no output ever destroys an input. Every process is
/// bounded by a timeout.
/// </summary>
[Collection("tiny model")]
[Trait("Category", Category.Unit)]
public class HostileCliTests(TinyModel tiny)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    // Nothing listens on port 1: the broker commands must say so in one line, without the password.
    private const string Unreachable = "amqp://guest:secret@127.0.0.1:1/";

    public static TheoryData<string> Situations => new() { "missing path", "empty folder", "unlabelled photo" };

    [Theory]
    [MemberData(nameof(Situations))]
    public void EveryCommand_OnABadInput_ExitsWithOneReadableLine(string situation)
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var input = situation switch
        {
            "missing path" => dir.File("no-such-folder"),
            "empty folder" => Directory.CreateDirectory(dir.File("empty")).FullName,
            _ => Directory.CreateDirectory(dir.File("unlabelled")).FullName,
        };
        if (situation == "unlabelled photo")
        {
            File.WriteAllBytes(Path.Combine(input, "photo.png"), TinyModel.Photo(dog: true, 1));
        }

        var model = new[] { "--models-dir", tiny.ModelsDirectory };
        var backbone = new[] { "--backbones", "tiny", "--catalog", Catalogue(dir) };
        var commands = new Dictionary<string, string[]>
        {
            ["train"] = ["train", input, "--out", dir.File("m.zip"), .. backbone, .. model, "--no-cache"],
            ["evaluate"] = ["evaluate", tiny.ModelPath, input, .. model, "--no-cache"],
            ["predict"] = ["predict", tiny.ModelPath, input, .. model, "--no-cache"],
            ["submit"] = ["submit", tiny.ModelPath, input, "--out", dir.File("s.csv"), .. model, "--no-cache"],
            ["fusion-report"] = ["fusion-report", input, .. backbone, .. model, "--no-cache"],
            ["audit"] = ["audit", input, "--out", dir.File("audit"), .. backbone, .. model, "--no-cache"],
            ["explain"] = ["explain", tiny.ModelPath, input, "--out", dir.File("cam"), .. model],
            ["backbones"] = ["backbones", "--catalog", Path.Combine(input, "catalogue.json")],
            ["scatter"] = ["scatter", input, "--job", "j", "--model", tiny.ModelPath, "--broker", Unreachable, "--connect-timeout", "1"],
            ["train --broker"] = ["train", input, "--out", dir.File("m.zip"), .. backbone, .. model, "--broker", Unreachable, "--connect-timeout", "1"],
        };
        foreach (var (name, args) in commands)
        {
            var result = CliProcess.Run(Timeout, args);
            if (situation == "unlabelled photo" && name is "predict" or "explain")
            {
                // Scoring and explaining need no label: the photo is scored.
                Assert.True(result.ExitCode == 0, $"{name}: {result.Stderr}");
                continue;
            }

            CliProcess.AssertCleanFailure(result, $"{name} on {situation}");
        }
    }

    [Fact]
    public void BrokerCommands_OnABadBrokerJobOrChoice_ExitWithOneReadableLine_AndNoPassword()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        File.WriteAllBytes(dir.File("dog.1.png"), TinyModel.Photo(dog: true, 1));
        var cases = new (string[] Args, string Says)[]
        {
            (["gather", "--job", "j", "--out", dir.File("p.csv"), "--broker", Unreachable, "--connect-timeout", "1"], "Could not reach the broker at amqp://guest:***@127.0.0.1:1/"),
            (["worker", "--broker", Unreachable], "Give either --model"),
            (["worker", "--broker", Unreachable, "--model", tiny.ModelPath, "--backbones", "tiny"], "Give either --model"),
            (["scatter", dir.Path, "--job", "no spaces!", "--model", tiny.ModelPath, "--broker", Unreachable], "1–64 ASCII letters"),
            (["scatter", dir.Path, "--job", "j", "--model", dir.File("none.zip"), "--broker", Unreachable], "none.zip' does not exist"),
            (["gather", "--job", "j", "--out", dir.File("p.csv"), "--broker", "http://127.0.0.1:1/"], "is not a broker URI"),
            (["gather", "--job", "j", "--out", dir.File("p.csv"), "--broker", Unreachable, "--max-deliveries", "0"], "Max deliveries must be 1 to 100"),
        };
        foreach (var (args, says) in cases)
        {
            var result = CliProcess.Run(Timeout, args);
            CliProcess.AssertCleanFailure(result, string.Join(' ', args));
            Assert.Contains(says, result.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("secret", result.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void OutputOverTheModel_IsRefusedBeforeAnyWork_AndTheModelIsIntact()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var model = dir.File("m.zip");
        File.Copy(tiny.ModelPath, model);
        var hash = SHA256.HashData(File.ReadAllBytes(model));
        foreach (var args in new[]
        {
            new[] { "predict", model, tiny.PhotosDirectory, "--out", model },
            ["submit", model, tiny.PhotosDirectory, "--out", model],
            ["predict", model, Path.Combine(tiny.PhotosDirectory, "cat.1.png"), "--out", Path.Combine(tiny.PhotosDirectory, "cat.1.png")],
            ["predict", model, tiny.PhotosDirectory, "--out", dir.Path],
        })
        {
            var result = CliProcess.Run(Timeout, [.. args, "--models-dir", tiny.ModelsDirectory]);
            CliProcess.AssertCleanFailure(result, string.Join(' ', args));
            Assert.DoesNotContain("ONNX Runtime:", result.Stderr, StringComparison.Ordinal); // refused before the model was even opened
        }

        Assert.Equal(hash, SHA256.HashData(File.ReadAllBytes(model)));
        Assert.Equal(TinyModel.Photo(dog: false, 1), File.ReadAllBytes(Path.Combine(tiny.PhotosDirectory, "cat.1.png")));
    }

    [Fact]
    public void Train_IntoAMissingFolder_CreatesIt_AndAStaleTemporaryFileIsReplaced()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var model = dir.File("new/folder/m.zip");
        Directory.CreateDirectory(dir.File("new/folder"));
        File.WriteAllText(model + ".tmp", "left by a crashed save");
        Directory.Delete(dir.File("new"), recursive: true);
        var result = CliProcess.Run(Timeout, "train", tiny.PhotosDirectory, "--out", model, "--backbones", "tiny", "--catalog", Catalogue(dir), "--models-dir", tiny.ModelsDirectory, "--no-cache", "--folds", "3");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.True(File.Exists(model));

        File.WriteAllText(model + ".tmp", "left by a crashed save");
        result = CliProcess.Run(Timeout, "train", tiny.PhotosDirectory, "--out", model, "--backbones", "tiny", "--catalog", Catalogue(dir), "--models-dir", tiny.ModelsDirectory, "--no-cache", "--folds", "3");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.False(File.Exists(model + ".tmp"));
    }

    [Theory]
    [InlineData("--folds", "1", "between 2 and 20")]
    [InlineData("--folds", "-5", "between 2 and 20")]
    [InlineData("--folds", "100000", "between 2 and 20")]
    [InlineData("--views", "native,zoom", "not a view")]
    [InlineData("--device", "tpu", "Unknown device 'tpu'")]
    public void OutOfRangeOptions_AreRefusedBeforeAnyWork(string option, string value, string message)
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var result = CliProcess.Run(Timeout, "train", tiny.PhotosDirectory, "--out", dir.File("m.zip"), "--backbones", "tiny", "--catalog", Catalogue(dir), "--models-dir", tiny.ModelsDirectory, "--no-cache", option, value);
        CliProcess.AssertCleanFailure(result, $"{option} {value}");
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("features:", result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("m.zip")));
    }

    [Fact]
    public void BadClip_IsRefusedBeforeScoring_AndAnIncompleteSubmissionNamesAllowMissing()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var result = CliProcess.Run(Timeout, "submit", tiny.ModelPath, tiny.PhotosDirectory, "--out", dir.File("s.csv"), "--clip", "0.9,0.1", "--models-dir", tiny.ModelsDirectory);
        CliProcess.AssertCleanFailure(result, "--clip 0.9,0.1");
        Assert.Contains("0 ≤ min < max ≤ 1", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("ONNX Runtime:", result.Stderr, StringComparison.Ordinal);

        Directory.CreateDirectory(dir.File("test"));
        File.WriteAllBytes(dir.File("test/1.png"), TinyModel.Photo(dog: true, 1));
        File.WriteAllText(dir.File("test/2.png"), "not a photo");
        result = CliProcess.Run(Timeout, "submit", tiny.ModelPath, dir.File("test"), "--out", dir.File("s.csv"), "--models-dir", tiny.ModelsDirectory, "--no-cache");
        CliProcess.AssertCleanFailure(result, "incomplete submission");
        Assert.Contains("--allow-missing", result.Stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void FifoAndDevZeroInAFolder_AreSkipped_AndEverythingElseIsScored()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "FIFOs and /dev/zero are made on Linux only.");
        using var dir = TestEnvironment.NewTempDirectory();
        foreach (var photo in Directory.GetFiles(tiny.PhotosDirectory).Take(5))
        {
            File.Copy(photo, dir.File(Path.GetFileName(photo)));
        }

        System.Diagnostics.Process.Start("mkfifo", dir.File("cat.901.jpg"))!.WaitForExit();
        File.CreateSymbolicLink(dir.File("dog.902.jpg"), "/dev/zero");
        Directory.CreateSymbolicLink(dir.File("loop"), ".");
        var result = CliProcess.Run(Timeout, "predict", tiny.ModelPath, dir.Path, "--models-dir", tiny.ModelsDirectory, "--no-cache");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("Scored 5, skipped 2, listed 7.", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(6, result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void ExplainIntoTheDataFolder_TwiceOver_NeverReadsItsOverlaysBack()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        foreach (var photo in Directory.GetFiles(tiny.PhotosDirectory).Take(4))
        {
            File.Copy(photo, dir.File(Path.GetFileName(photo)));
        }

        for (var run = 0; run < 2; run++)
        {
            var result = CliProcess.Run(Timeout, "explain", tiny.ModelPath, dir.Path, "--out", dir.File("cam"), "--models-dir", tiny.ModelsDirectory);
            Assert.True(result.ExitCode == 0, result.Stderr);
            Assert.Contains("Explained 4, skipped 0, listed 4", result.Stderr, StringComparison.Ordinal);
        }

        var train = CliProcess.Run(Timeout, "predict", tiny.ModelPath, dir.Path, "--models-dir", tiny.ModelsDirectory, "--no-cache");
        Assert.Contains("listed 4.", train.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ManifestWithNulls_IsOneLineAndExitCodeOne()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var model = dir.File("m.zip");
        File.Copy(tiny.ModelPath, model);
        BundleFile.EditManifest(model, m => m["backbones"]![0]!["spec"] = null, rehash: true);
        var result = CliProcess.Run(Timeout, "predict", model, tiny.PhotosDirectory, "--models-dir", tiny.ModelsDirectory);
        CliProcess.AssertCleanFailure(result, "a manifest with nulls");
        Assert.Contains(model, result.Stderr, StringComparison.Ordinal);

        var verbose = CliProcess.Run(Timeout, "predict", model, tiny.PhotosDirectory, "--models-dir", tiny.ModelsDirectory, "--verbose");
        Assert.Equal(1, verbose.ExitCode);
        Assert.Contains("   at ", verbose.Stderr, StringComparison.Ordinal); // --verbose adds the stack trace
    }

    [Fact]
    public void OutputWithAPhotoNameInsideTheInputFolder_IsRefusedNamingBoth_AndThePhotoIsIntact()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var data = Directory.CreateDirectory(dir.File("data")).FullName;
        foreach (var photo in Directory.GetFiles(tiny.PhotosDirectory))
        {
            File.Copy(photo, Path.Combine(data, Path.GetFileName(photo)));
        }

        File.Copy(Path.Combine(data, "cat.1.png"), Path.Combine(data, "cat.200.jpg"));
        var photoBytes = File.ReadAllBytes(Path.Combine(data, "cat.200.jpg"));
        Directory.CreateSymbolicLink(dir.File("alias"), data);
        var model = new[] { "--models-dir", tiny.ModelsDirectory, "--no-cache" };
        foreach (var args in new[]
        {
            new[] { "predict", tiny.ModelPath, data, "--out", Path.Combine(data, "cat.200.jpg") }, // a listed photo
            ["predict", tiny.ModelPath, dir.File("alias"), "--out", Path.Combine(data, "cat.200.jpg")], // the same, through a link
            ["train", data, "--out", Path.Combine(data, "cat.201.jpg"), "--backbones", "tiny", "--catalog", Catalogue(dir)], // not there yet: the next run would list it
            ["submit", tiny.ModelPath, data, "--out", Path.Combine(data, "new", "dog.3.PNG")],
        })
        {
            var result = CliProcess.Run(Timeout, [.. args, .. model]);
            CliProcess.AssertCleanFailure(result, string.Join(' ', args));
            Assert.Contains($"inside the input folder '", result.Stderr, StringComparison.Ordinal);
            Assert.Contains(args[Array.IndexOf(args, "--out") + 1], result.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("ONNX Runtime:", result.Stderr, StringComparison.Ordinal); // before any work
        }

        Assert.Equal(photoBytes, File.ReadAllBytes(Path.Combine(data, "cat.200.jpg")));
        Assert.False(File.Exists(Path.Combine(data, "cat.201.jpg")));

        // A CSV beside the photos is fine: the next listing does not read it.
        var csv = CliProcess.Run(Timeout, ["predict", tiny.ModelPath, data, "--out", Path.Combine(data, "p.csv"), .. model]);
        Assert.True(csv.ExitCode == 0, csv.Stderr);
        var again = CliProcess.Run(Timeout, ["predict", tiny.ModelPath, data, .. model]);
        Assert.Contains($"listed {Directory.GetFiles(tiny.PhotosDirectory).Length + 1}.", again.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ExplainOrReportsIntoTheInputFolder_OrAFolderOfPhotos_AreRefused_AndNothingIsWrittenThere()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var data = Directory.CreateDirectory(dir.File("data")).FullName;
        var other = Directory.CreateDirectory(dir.File("other")).FullName;
        foreach (var photo in Directory.GetFiles(tiny.PhotosDirectory).Order(StringComparer.Ordinal).Take(6))
        {
            File.Copy(photo, Path.Combine(data, Path.GetFileName(photo)));
            File.Copy(photo, Path.Combine(other, Path.GetFileName(photo)));
        }

        var before = Directory.GetFileSystemEntries(data).Order(StringComparer.Ordinal).ToArray();
        var model = new[] { "--models-dir", tiny.ModelsDirectory };
        foreach (var (args, says) in new (string[] Args, string Says)[]
        {
            (["explain", tiny.ModelPath, data, "--out", data], "is the input folder of this run"),
            (["explain", tiny.ModelPath, Path.Combine(data, "cat.1.png"), "--out", data], "holds the input"),
            (["explain", tiny.ModelPath, dir.File("other"), "--out", dir.Path], "holds the input"),
            (["explain", tiny.ModelPath, other, "--out", data], "already holds photos this tool did not write"),
            (["evaluate", tiny.ModelPath, data, "--report", data, "--no-cache"], "is the input folder of this run"),
        })
        {
            var result = CliProcess.Run(Timeout, [.. args, .. model]);
            CliProcess.AssertCleanFailure(result, string.Join(' ', args));
            Assert.Contains(says, result.Stderr, StringComparison.Ordinal);
            Assert.Contains($"Output folder '{args[Array.IndexOf(args, args[0] == "evaluate" ? "--report" : "--out") + 1]}'", result.Stderr, StringComparison.Ordinal);
        }

        Assert.Equal(before, Directory.GetFileSystemEntries(data).Order(StringComparer.Ordinal).ToArray()); // no overlay, no marker
        var predict = CliProcess.Run(Timeout, ["predict", tiny.ModelPath, data, .. model, "--no-cache"]);
        Assert.Contains("Scored 6, skipped 0, listed 6.", predict.Stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void SignKey_FromADeviceAFifoAFolderOrAHugeSparseFile_IsRefusedAtOnce_NamingTheFile()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "FIFOs, /dev/zero and sparse files are made on Linux only.");
        using var dir = TestEnvironment.NewTempDirectory();
        System.Diagnostics.Process.Start("mkfifo", dir.File("key.fifo"))!.WaitForExit();
        using (var sparse = File.Create(dir.File("key.huge")))
        {
            sparse.SetLength(3L << 30); // 3 GiB of holes: no disk used
        }

        File.WriteAllText(dir.File("key.short"), "tiny");
        var cases = new (string Key, string Says)[]
        {
            ("/dev/zero", "not a regular file"),
            (dir.File("key.fifo"), "not a regular file"),
            (dir.Path, "a folder"),
            (dir.File("key.huge"), "3,221,225,472 bytes, more than the key size limit of 4,096 bytes"),
            (dir.File("key.short"), "holds 4 bytes"),
            (dir.File("key.missing"), "does not exist"),
        };
        foreach (var (key, says) in cases)
        {
            foreach (var args in new[]
            {
                new[] { "predict", tiny.ModelPath, tiny.PhotosDirectory, "--models-dir", tiny.ModelsDirectory, "--sign-key", key },
                ["train", tiny.PhotosDirectory, "--out", dir.File("m.zip"), "--backbones", "tiny", "--catalog", Catalogue(dir), "--models-dir", tiny.ModelsDirectory, "--no-cache", "--sign-key", key],
            })
            {
                var result = CliProcess.Run(TimeSpan.FromSeconds(30), args); // a FIFO read would block: the timeout fails the test
                CliProcess.AssertCleanFailure(result, $"{args[0]} --sign-key {key}");
                Assert.Contains($"Key file '{key}'", result.Stderr, StringComparison.Ordinal);
                Assert.Contains(says, result.Stderr, StringComparison.Ordinal);
                Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            }
        }

        Assert.False(File.Exists(dir.File("m.zip")));
    }

    [SkippableFact]
    public void WebApp_OnABadKeyFileOrDevice_ExitsWithOneLine_WithoutBlocking()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "FIFOs and /dev/zero are made on Linux only.");
        using var dir = TestEnvironment.NewTempDirectory();
        System.Diagnostics.Process.Start("mkfifo", dir.File("key.fifo"))!.WaitForExit();
        foreach (var (option, value, says) in new[]
        {
            ("--sign-key", "/dev/zero", "Key file '/dev/zero' is not a regular file"),
            ("--sign-key", dir.File("key.fifo"), $"Key file '{dir.File("key.fifo")}' is not a regular file"),
            ("--device", "tpu", "Unknown device 'tpu': use cpu, cuda or cuda:N."),
        })
        {
            var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "CatsDogs.Web.dll"), "--urls", "http://127.0.0.1:0", "--model", tiny.ModelPath, "--models-dir", tiny.ModelsDirectory, option, value })
            {
                start.ArgumentList.Add(a);
            }

            using var process = System.Diagnostics.Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"the web app with {option} {value} did not exit within 30 s");
            }

            process.WaitForExit();
            var text = stderr.Result;
            Assert.True(process.ExitCode == 1, $"{option} {value}: exit code {process.ExitCode}: {text}");
            Assert.Contains("error: " + says, text, StringComparison.Ordinal);
            Assert.DoesNotContain("(Parameter '", text, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void BatchWithNoUsablePhoto_ExitsOne_SayingNothingWasDone_AndWritesNothing()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var data = Directory.CreateDirectory(dir.File("data")).FullName;
        foreach (var name in new[] { "cat.1.jpg", "dog.2.jpg", "cat.3.jpg" })
        {
            File.WriteAllText(Path.Combine(data, name), "this is a text file, not a photo\n");
        }

        var model = new[] { "--models-dir", tiny.ModelsDirectory, "--no-cache" };
        foreach (var (args, output, says) in new (string[] Args, string? Output, string Says)[]
        {
            (["predict", tiny.ModelPath, Path.Combine(data, "cat.3.jpg")], null, "Nothing was scored: the one listed photo was skipped"),
            (["predict", tiny.ModelPath, data], null, "Nothing was scored: all 3 listed photos were skipped"),
            (["predict", tiny.ModelPath, data, "--out", dir.File("p.csv")], dir.File("p.csv"), "Nothing was scored"),
            (["submit", tiny.ModelPath, data, "--out", dir.File("s.csv"), "--allow-missing"], dir.File("s.csv"), "Nothing was scored"),
            (["explain", tiny.ModelPath, data, "--out", dir.File("cam")], dir.File("cam/contact-sheet.png"), "Nothing was explained"),
            (["evaluate", tiny.ModelPath, data], null, "no photo could be scored"),
        })
        {
            var result = CliProcess.Run(Timeout, [.. args, .. model.Where(a => args[0] != "explain" || a != "--no-cache")]);
            CliProcess.AssertCleanFailure(result, string.Join(' ', args));
            Assert.Contains(says, result.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("path,dog_probability", result.Stdout, StringComparison.Ordinal);
            if (output is not null)
            {
                Assert.False(File.Exists(output), $"{output} was written");
            }

            if (args[0] != "evaluate")
            {
                Assert.Contains("skipped: ", result.Stderr, StringComparison.Ordinal); // the reasons come first
            }
        }
    }

    // A catalogue file that adds the tiny backbone.
    private static string Catalogue(TempDirectory dir)
    {
        var path = dir.File("tiny-catalogue.json");
        File.WriteAllText(path, ML.Backbones.BackboneCatalogJson.Serialize([TinyModel.Spec]));
        return path;
    }
}
