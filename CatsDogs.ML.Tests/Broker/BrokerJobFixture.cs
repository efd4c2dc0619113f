using System.Globalization;
using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Tests.Broker;

/// <summary>
/// What every broker test scores: a ResNet18 model (native view) trained on 120 real photos, 300 other real photos
/// plus three junk files copied into one folder, and what single-machine scoring says about each (the reference the
/// gathered CSV must equal). Built on first use, so a run without a broker (all tests skipped) pays nothing.
/// </summary>
public sealed class BrokerJobFixture : IDisposable
{
    private readonly Lazy<Setup> _setup = new(Build);

    internal Setup Job => _setup.Value;

    public void Dispose()
    {
        if (_setup.IsValueCreated)
        {
            _setup.Value.Work.Dispose();
        }
    }

    private static Setup Build()
    {
        var work = TestEnvironment.NewTempDirectory();
        var all = ImageDataset.FromFolder(TestEnvironment.DataDirectory);
        var cats = all.Where(e => e.Label == PetLabel.Cat).ToArray();
        var dogs = all.Where(e => e.Label == PetLabel.Dog).ToArray();
        var train = ImageDataset.FromFiles(cats.Take(60).Concat(dogs.Take(60)).Select(e => e.Path));
        var photos = Directory.CreateDirectory(work.File("photos")).FullName;
        foreach (var photo in cats.Skip(60).Take(150).Concat(dogs.Skip(60).Take(150)))
        {
            File.Copy(photo.Path, Path.Combine(photos, Path.GetFileName(photo.Path)));
        }

        // Junk beside the photos: every one must come back skipped with the library's reason, as predict says.
        File.WriteAllBytes(Path.Combine(photos, "empty.jpg"), []);
        File.WriteAllText(Path.Combine(photos, "notes.jpg"), "not a photo");
        File.WriteAllBytes(Path.Combine(photos, "truncated.jpg"), File.ReadAllBytes(cats[0].Path)[..600]);

        var model = work.File("model.zip");
        var options = new CatsDogsOptions { Views = [ImageView.Native], ModelsDirectory = TestEnvironment.SharedModelsDirectory };
        using (var classifier = new CatsDogsTrainer(options).Train(train))
        {
            classifier.Save(model);
            var reference = classifier.PredictMany(ImageDataset.FromFolder(photos));
            return new Setup(work, model, photos, reference);
        }
    }

    /// <summary>The shared inputs and the single-machine answer.</summary>
    internal sealed record Setup(TempDirectory Work, string Model, string Photos, BatchPrediction Reference)
    {
        public int Listed => Reference.Count;
    }
}

/// <summary>Reads what gather wrote, to compare it with single-machine scoring.</summary>
internal static class GatheredOutput
{
    /// <summary>The rows of a predict/gather CSV: path, P(dog), label.</summary>
    public static IReadOnlyList<(string Path, double DogProbability, string Label)> Rows(string csv) =>
        csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(line => line.Split(','))
            .Select(f => (f[0], double.Parse(f[1], CultureInfo.InvariantCulture), f[2]))
            .ToArray();

    /// <summary>The "skipped: PATH: REASON" lines of stderr.</summary>
    public static IReadOnlyList<string> Skipped(string stderr) =>
        stderr.Split('\n').Where(l => l.StartsWith("skipped: ", StringComparison.Ordinal)).Select(l => l.TrimEnd()).ToArray();
}
