using System.Text.Json;
using CatsDogs.Cli;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Tests.Harness;
using Xunit;

namespace CatsDogs.ML.Tests.Cli;

[Collection("trained resnet18")]
public class CliTests(HelloWorldFixture trained)
{
    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void TrainThenEvaluateJson_AccountsForEveryPhoto()
    {
        var dataDir = TestEnvironment.DataDirectory;
        using var dir = TestEnvironment.NewTempDirectory();
        var photos = trained.Train!.Shuffle(1).Take(80).ToArray();
        Directory.CreateDirectory(dir.File("train"));
        foreach (var photo in photos)
        {
            File.Copy(photo.Path, dir.File("train/" + Path.GetFileName(photo.Path)));
        }

        var model = dir.File("model.zip");
        var (trainCode, trainOut, trainErr) = Run("train", dir.File("train"), "--out", model, "--seed", "5");
        Assert.True(trainCode == 0, trainErr);
        Assert.Contains("usable photos", trainOut, StringComparison.Ordinal);
        Assert.Contains("of 80 usable photos", trainOut, StringComparison.Ordinal);

        Directory.CreateDirectory(dir.File("eval"));
        foreach (var photo in trained.Test!.Shuffle(2).Take(30))
        {
            File.Copy(photo.Path, dir.File("eval/" + Path.GetFileName(photo.Path)));
        }

        File.WriteAllText(dir.File("eval/cat.999999.jpg"), "not a photo");
        var (code, stdout, stderr) = Run("evaluate", model, dir.File("eval"), "--json");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.Equal(30, root.GetProperty("count").GetInt32());
        Assert.Equal(1, root.GetProperty("skipped").GetInt32());
        Assert.Equal(31, root.GetProperty("listed").GetInt32());
        Assert.InRange(root.GetProperty("logLoss").GetDouble(), 0, 1);
        Assert.InRange(root.GetProperty("accuracy").GetDouble(), 0.5, 1);
        Assert.InRange(root.GetProperty("auc").GetDouble(), 0.5, 1);
        Assert.Contains("cat.999999.jpg", stderr, StringComparison.Ordinal);
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void PredictAndSubmit_OnKaggleTestNames()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var model = dir.File("model.zip");
        trained.Classifier!.Save(model);
        Directory.CreateDirectory(dir.File("test"));
        var photos = trained.Test!.Take(12).ToArray();
        for (var i = 0; i < photos.Length; i++)
        {
            File.Copy(photos[i].Path, dir.File($"test/{i + 1}.jpg"));
        }

        var (code, stdout, stderr) = Run("predict", model, dir.File("test"));
        Assert.True(code == 0, stderr);
        var rows = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("path,dog_probability,label", rows[0]);
        Assert.Equal(13, rows.Length);
        Assert.Contains("Scored 12, skipped 0, listed 12", stderr, StringComparison.Ordinal);

        var submission = dir.File("submission.csv");
        (code, _, stderr) = Run("submit", model, dir.File("test"), "--out", submission);
        Assert.True(code == 0, stderr);
        var lines = File.ReadAllLines(submission);
        Assert.Equal("id,label", lines[0]);
        Assert.Equal(Enumerable.Range(1, 12).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), lines.Skip(1).Select(l => l.Split(',')[0]));

        // A broken test photo blocks the submission unless --allow-missing, and is named.
        File.WriteAllBytes(dir.File("test/13.jpg"), File.ReadAllBytes(photos[0].Path)[..500]);
        File.Delete(submission);
        (code, _, stderr) = Run("submit", model, dir.File("test"), "--out", submission);
        Assert.Equal(CliApp.Failure, code);
        Assert.Contains("13.jpg", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(submission));

        (code, _, stderr) = Run("submit", model, dir.File("test"), "--out", submission, "--allow-missing", "--clip", "0.01,0.99");
        Assert.True(code == 0, stderr);
        Assert.Equal(13, File.ReadAllLines(submission).Length);
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void FusedTrain_FusionReport_AndAudit_OnASmallFolder()
    {
        var dataDir = TestEnvironment.DataDirectory;
        using var dir = TestEnvironment.NewTempDirectory();
        Directory.CreateDirectory(dir.File("photos"));
        var photos = trained.Train!.Shuffle(7).Take(60).Select(p => p.Path).Concat([Path.Combine(dataDir, "dog.1043.jpg"), Path.Combine(dataDir, "dog.10237.jpg")]).Distinct();
        foreach (var photo in photos)
        {
            File.Copy(photo, dir.File("photos/" + Path.GetFileName(photo)));
        }

        // The command line: four real backbones fused, models from the shared folder.
        var model = dir.File("fused.zip");
        var (code, stdout, stderr) = Run("train", dir.File("photos"), "--backbones", "resnet18,mobilenet_v2,mobilenet_v2_tf2,mobilenet_v1",
            "--models-dir", TestEnvironment.SharedModelsDirectory, "--out", model);
        Assert.True(code == 0, stderr);
        using (var loaded = CatsDogsClassifier.Load(model, TestEnvironment.SharedModelsDirectory))
        {
            Assert.Equal(["resnet18", "mobilenet_v2", "mobilenet_v2_tf2", "mobilenet_v1"], loaded.Backbones.Select(b => b.Name));
        }

        (code, stdout, stderr) = Run("fusion-report", dir.File("photos"), "--backbones", "resnet18,mobilenet_v1", "--models-dir", TestEnvironment.SharedModelsDirectory, "--out", dir.File("fusion.md"));
        Assert.True(code == 0, stderr);
        var table = File.ReadAllLines(dir.File("fusion.md")).Where(l => l.StartsWith("| ", StringComparison.Ordinal)).Skip(1).ToArray();
        Assert.Equal(3, table.Length); // resnet18, mobilenet_v1, both
        Assert.Contains(table, row => row.StartsWith("| resnet18 + mobilenet_v1 |", StringComparison.Ordinal));
        Assert.Contains("log loss", stdout, StringComparison.Ordinal);

        (code, stdout, stderr) = Run("audit", dir.File("photos"), "--out", dir.File("audit"), "--backbones", "resnet18", "--models-dir", TestEnvironment.SharedModelsDirectory);
        Assert.True(code == 0, stderr);
        var csv = File.ReadAllText(dir.File("audit/findings.csv"));
        Assert.Contains("dog.1043.jpg,dog,", csv, StringComparison.Ordinal);
        Assert.Contains("dog.10237.jpg,dog,", csv, StringComparison.Ordinal);
        Assert.Contains("<img class=\"thumb\" src=\"thumbs/", File.ReadAllText(dir.File("audit/report.html")), StringComparison.Ordinal);
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void Explain_WritesAnOverlayPerPhoto_JsonLines_AndAContactSheet()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var model = dir.File("model.zip");
        trained.Classifier!.Save(model);
        Directory.CreateDirectory(dir.File("photos"));
        foreach (var photo in trained.Test!.Shuffle(4).Take(5))
        {
            File.Copy(photo.Path, dir.File("photos/" + Path.GetFileName(photo.Path)));
        }

        File.WriteAllText(dir.File("photos/dog.424242.jpg"), "not a photo");
        var (code, stdout, stderr) = Run("explain", model, dir.File("photos"), "--out", dir.File("cam"), "--json");
        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Length);
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            var (x, y) = (root.GetProperty("peak").GetProperty("x").GetInt32(), root.GetProperty("peak").GetProperty("y").GetInt32());
            Assert.InRange(x, 0, root.GetProperty("width").GetInt32() - 1);
            Assert.InRange(y, 0, root.GetProperty("height").GetInt32() - 1);
            Assert.InRange(root.GetProperty("dogProbability").GetDouble(), 0, 1);
            Assert.True(File.Exists(root.GetProperty("overlay").GetString()));
        }

        Assert.True(File.Exists(dir.File("cam/contact-sheet.png")));
        Assert.Contains("dog.424242.jpg", stderr, StringComparison.Ordinal);
        Assert.Contains("Explained 5, skipped 1, listed 6", stderr, StringComparison.Ordinal);
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void CtrlC_StopsTheWork_WithCode130_AndASecondOneExitsAtOnce()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var model = dir.File("model.zip");
        trained.Classifier!.Save(model);
        foreach (var times in new[] { 1, 2 })
        {
            var result = CliProcess.Run(TimeSpan.FromSeconds(120), (process, stderr) =>
            {
                // Cold cache, 5,285 photos: scoring takes minutes; interrupt it once it has started.
                CliProcess.WaitFor(stderr, "features: ", process);
                // The second signal follows within a few milliseconds: a cancelled run can finish unwinding within 100 ms.
                for (var i = 0; i < times; i++)
                {
                    CliProcess.Signal(process, "INT");
                    Thread.Sleep(5);
                }
            }, "predict", model, TestEnvironment.DataDirectory, "--no-cache");
            Assert.Equal(130, result.ExitCode);
            Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
            Assert.Contains(times == 1 ? "Cancelled." : "Stopped.", result.Stderr, StringComparison.Ordinal);
            if (times == 2)
            {
                // Nothing after "Stopped.": ONNX Runtime's teardown used to print red "GetElementType is not implemented" lines.
                var after = result.Stderr[(result.Stderr.LastIndexOf("Stopped.", StringComparison.Ordinal) + "Stopped.".Length)..];
                Assert.True(after.Trim().Length == 0, $"stderr goes on after 'Stopped.': {after}");
            }

            Assert.True(result.Elapsed < TimeSpan.FromSeconds(60), $"took {result.Elapsed.TotalSeconds:F0} s to stop");
        }
    }

    internal static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}

/// <summary>The command line's parsing and messages, in process, without real photos.</summary>
[Trait("Category", Category.Unit)]
public class CliUnitTests
{
    [Fact]
    public void Help_ListsTheCommands()
    {
        var (code, stdout, _) = CliTests.Run("--help");
        Assert.Equal(0, code);
        foreach (var command in new[] { "train", "evaluate", "predict", "submit", "fusion-report", "audit", "explain", "backbones" })
        {
            Assert.Contains(command, stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Predict_MissingModel_FailsWithFileName()
    {
        var (code, _, stderr) = CliTests.Run("predict", "/no/such/model.zip", ".");
        Assert.Equal(CliApp.Failure, code);
        Assert.Contains("/no/such/model.zip", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Backbones_ListsTheCatalogue_AndWhichFilesAreMissing()
    {
        var (code, stdout, stderr) = CliTests.Run("backbones", "--models-dir", TestEnvironment.SharedModelsDirectory);
        Assert.True(code == 0, stderr);
        foreach (var spec in KnownBackbones.All)
        {
            Assert.Contains(spec.Name, stdout, StringComparison.Ordinal);
        }

        Assert.Contains("missing: resnet50_keras.onnx", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("missing: ResNet18.onnx", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_UnknownBackbone_ListsTheKnownOnes()
    {
        var (code, _, stderr) = CliTests.Run("train", ".", "--out", "m.zip", "--backbones", "resnet18,vgg16");
        Assert.Equal(CliApp.Failure, code);
        Assert.Contains("Unknown backbone 'vgg16'", stderr, StringComparison.Ordinal);
        Assert.Contains("mobilenet_v2_tf2", stderr, StringComparison.Ordinal);
    }
}
