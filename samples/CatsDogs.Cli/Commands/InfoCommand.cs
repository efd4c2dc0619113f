using System.CommandLine;
using System.Globalization;
using CatsDogs.Cli.Options;
using CatsDogs.ML;
using CatsDogs.ML.Training;

namespace CatsDogs.Cli.Commands;

/// <summary><c>catsdogs info</c>: what a saved model says about itself, without opening its backbones.</summary>
internal static class InfoCommand
{
    public static Command Create(Cli cli)
    {
        var json = new Option<bool>("--json") { Description = "Print the same as JSON." };
        var command = new Command("info", "Print a saved model's format, backbones (with file hashes), views, head, precision and training summary.");
        var model = new ModelOptions().AddTo(command, withCache: false, withBackbones: false);
        command.Add(json);
        cli.SetAction(command, (parse, _) =>
        {
            var info = CatsDogsClassifier.Inspect(model.ModelPath(parse), model.SigningKey(parse));
            var training = info.Training;
            if (parse.GetValue(json))
            {
                cli.WriteJson(new
                {
                    info.Path,
                    info.FormatVersion,
                    info.Library,
                    info.CreatedUtc,
                    info.Backbones,
                    Views = info.Views.Select(v => v.ToString()).ToArray(),
                    Head = HeadKinds.Name(info.Head),
                    info.Capabilities,
                    info.Precision,
                    Training = training is null ? null : new
                    {
                        training.TrainedOn,
                        training.Cats,
                        training.Dogs,
                        Excluded = training.Excluded.Count,
                        training.Folds,
                        training.Best.L2,
                        training.Best.ValidationLogLoss,
                        training.Best.ValidationAccuracy,
                        training.SubmissionClip,
                        training.Seed,
                    },
                });
                return 0;
            }

            var o = cli.Output;
            o.WriteLine($"Model:      {info.Path}");
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Format:     {info.FormatVersion} (written by CatsDogs.ML {info.Library}, {info.CreatedUtc:yyyy-MM-dd HH:mm} UTC)"));
            foreach (var (b, i) in info.Backbones.Select((b, i) => (b, i)))
            {
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(i == 0 ? "Backbones:" : ""),-11} {b.Name} ({b.FileName}, {b.FeatureDimension} features, SHA-256 {b.Sha256})"));
            }

            o.WriteLine($"Views:      {string.Join(", ", info.Views)}");
            o.WriteLine($"Head:       {HeadKinds.Name(info.Head)} ({(info.Capabilities.HasLinearForm ? "linear form: explain and export work" : "no linear form: no explain, no export")}; P(dog) = {info.Capabilities.Calibration})");
            o.WriteLine($"Precision:  {info.Precision}");
            o.WriteLine(training is null
                ? "Training:   not recorded"
                : string.Create(CultureInfo.InvariantCulture,
                    $"Training:   {training.TrainedOn} photos ({training.Cats} cats, {training.Dogs} dogs), {training.Excluded.Count} left out as likely mislabelled; {training.Folds}-fold CV chose L2 {training.Best.L2:G4} (log loss {training.Best.ValidationLogLoss:F4}, accuracy {training.Best.ValidationAccuracy:P2}); seed {training.Seed}"));
            return 0;
        });
        return command;
    }
}
