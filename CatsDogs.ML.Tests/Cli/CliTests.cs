using System.Text.Json;
using CatsDogs.Cli;
using CatsDogs.ML.Data;
using CatsDogs.ML.Tests.Harness;
using Xunit;

namespace CatsDogs.ML.Tests.Cli;

[Collection("trained resnet18")]
public class CliTests(HelloWorldFixture trained)
{
    [Fact]
    public void Help_ListsTheCommands()
    {
        var (code, stdout, _) = Run("--help");
        Assert.Equal(0, code);
        foreach (var command in new[] { "train", "evaluate", "predict", "submit" })
        {
            Assert.Contains(command, stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Predict_MissingModel_FailsWithFileName()
    {
        var (code, _, stderr) = Run("predict", "/no/such/model.zip", ".");
        Assert.Equal(CliApp.Failure, code);
        Assert.Contains("/no/such/model.zip", stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void TrainThenEvaluateJson_AccountsForEveryPhoto()
    {
        var dataDir = TestEnvironment.RequireData();
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
        Assert.Contains("Trained on 80 photos", trainOut, StringComparison.Ordinal);

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

    [SkippableFact]
    public void PredictAndSubmit_OnKaggleTestNames()
    {
        TestEnvironment.RequireData();
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

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
