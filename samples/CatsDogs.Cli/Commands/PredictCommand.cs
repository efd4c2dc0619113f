using System.CommandLine;
using CatsDogs.Cli.Options;
using CatsDogs.ML.Data;

namespace CatsDogs.Cli.Commands;

/// <summary><c>catsdogs predict</c>: P(dog) for a photo or every photo in a folder, as CSV.</summary>
internal static class PredictCommand
{
    public static Command Create(Cli cli)
    {
        var target = new Argument<string>("file-or-dir") { Description = "A photo, or a folder scored recursively." };
        var outPath = new Option<string?>("--out", "-o") { Description = "Write the CSV (path,dog_probability,label) here instead of stdout." };
        var command = new Command("predict", "Print P(dog) for a photo or every photo in a folder, as CSV.");
        var model = new ModelOptions().AddTo(command);
        command.Add(target);
        command.Add(outPath);
        cli.SetAction(command, (parse, token) =>
        {
            model.ModelPath(parse);
            var path = parse.GetRequiredValue(target);
            var file = parse.GetValue(outPath) is { } o ? OutputFile.Prepare(o, [model.ModelPath(parse), path]) : null;
            var images = Photos.At(path, token);
            using var classifier = model.Load(parse, cli);
            var result = cli.WithProgress(progress => classifier.PredictMany(images, progress, token));
            cli.ReportSkipped(result.Skipped);
            Cli.RequireSome(result.Scored.Count, images.Count, "scored");
            if (file is not null)
            {
                OutputFile.WriteText(file, result.ToCsv());
            }
            else
            {
                cli.Output.Write(result.ToCsv());
            }

            cli.Error.WriteLine($"Scored {result.Scored.Count}, skipped {result.Skipped.Count}, listed {images.Count}.");
            return 0;
        });
        return command;
    }
}
