using System.CommandLine;
using System.Globalization;
using CatsDogs.Cli.Options;
using CatsDogs.ML.Data;
using CatsDogs.ML.Evaluation;

namespace CatsDogs.Cli.Commands;

/// <summary><c>catsdogs submit</c>: a Kaggle submission (id,label = P(dog)) for a folder of test photos.</summary>
internal static class SubmitCommand
{
    public static Command Create(Cli cli)
    {
        var testDir = new Argument<string>("test-dir") { Description = "Kaggle test photos named N.jpg." };
        var outPath = new Option<string>("--out", "-o") { Description = "The submission CSV to write (id,label).", Required = true };
        var clip = new Option<string>("--clip")
        {
            Description = "Clip P(dog) to min,max, or 'auto' (default): the symmetric clip that minimised the log loss of the model's out-of-fold training predictions.",
            DefaultValueFactory = _ => "auto",
        };
        var allowMissing = new Option<bool>("--allow-missing") { Description = "Write even when some photos could not be scored." };
        var command = new Command("submit", "Write a Kaggle submission (id,label = P(dog)) for a folder of test photos.");
        var model = new ModelOptions().AddTo(command);
        command.Add(testDir);
        command.Add(outPath);
        command.Add(clip);
        command.Add(allowMissing);
        cli.SetAction(command, (parse, token) =>
        {
            model.ModelPath(parse);
            var options = new SubmissionOptions { AllowMissing = parse.GetValue(allowMissing) };
            var text = parse.GetRequiredValue(clip).Trim();
            var auto = string.Equals(text, "auto", StringComparison.OrdinalIgnoreCase);
            if (!auto)
            {
                var bounds = text.Split(',');
                if (bounds.Length != 2 || !double.TryParse(bounds[0], CultureInfo.InvariantCulture, out var min) || !double.TryParse(bounds[1], CultureInfo.InvariantCulture, out var max))
                {
                    throw new ArgumentException($"--clip expects 'auto' or 'min,max' such as 0.005,0.995; got '{text}'.");
                }

                options = (options with { ClipMin = min, ClipMax = max }).Validate();
            }

            var dir = parse.GetRequiredValue(testDir);
            var file = OutputFile.Prepare(parse.GetRequiredValue(outPath), [model.ModelPath(parse), dir]);
            var images = Photos.Folder(dir, token);
            using var classifier = model.Load(parse, cli);
            if (auto)
            {
                var c = classifier.Training?.SubmissionClip;
                options = (options with { ClipMin = c ?? 0.005, ClipMax = 1 - (c ?? 0.005) }).Validate();
                cli.Error.WriteLine(c is null
                    ? "notice: this model records no clip (trained by an earlier version); clipping to [0.005, 0.995] as the original work did."
                    : string.Create(CultureInfo.InvariantCulture, $"Clipping P(dog) to [{c:G3}, 1 − {c:G3}], the clip that minimised the model's out-of-fold log loss."));
            }
            var result = cli.WithProgress(progress => classifier.PredictMany(images, progress, token));
            cli.ReportSkipped(result.Skipped);
            Cli.RequireSome(result.Scored.Count, images.Count, "scored");
            KaggleSubmission.Write(file, result, options);
            cli.Output.WriteLine($"Wrote {result.Scored.Count} rows to {file} (skipped {result.Skipped.Count}, listed {images.Count}).");
            return 0;
        });
        return command;
    }
}
