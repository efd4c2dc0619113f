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
        var clip = new Option<string>("--clip") { Description = "Clip P(dog) to min,max.", DefaultValueFactory = _ => "0.005,0.995" };
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
            var bounds = parse.GetRequiredValue(clip).Split(',');
            if (bounds.Length != 2 || !double.TryParse(bounds[0], CultureInfo.InvariantCulture, out var min) || !double.TryParse(bounds[1], CultureInfo.InvariantCulture, out var max))
            {
                throw new ArgumentException($"--clip expects 'min,max' such as 0.005,0.995; got '{parse.GetValue(clip)}'.");
            }

            options = (options with { ClipMin = min, ClipMax = max }).Validate();
            var dir = parse.GetRequiredValue(testDir);
            var file = OutputFile.Prepare(parse.GetRequiredValue(outPath), [model.ModelPath(parse), dir]);
            var images = Photos.Folder(dir, token);
            using var classifier = model.Load(parse, cli);
            var result = cli.WithProgress(progress => classifier.PredictMany(images, progress, token));
            cli.ReportSkipped(result.Skipped);
            KaggleSubmission.Write(file, result, options);
            cli.Output.WriteLine($"Wrote {result.Scored.Count} rows to {file} (skipped {result.Skipped.Count}, listed {images.Count}).");
            return 0;
        });
        return command;
    }
}
