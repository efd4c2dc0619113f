using System.CommandLine;
using CatsDogs.Cli.Options;
using CatsDogs.ML.Data;
using CatsDogs.ML.Explain;

namespace CatsDogs.Cli.Commands;

/// <summary><c>catsdogs explain</c>: class activation maps, one overlay PNG per photo, written as they are made.</summary>
internal static class ExplainCommand
{
    public static Command Create(Cli cli)
    {
        var target = new Argument<string>("file-or-dir") { Description = "A photo, or a folder explained recursively." };
        var outPath = new Option<string>("--out", "-o") { Description = "Folder for the overlay PNGs and the contact sheet (never read back as photos).", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per photo (path, dogProbability, label, peak, overlay) on stdout." };
        var sheet = new Option<int>("--sheet") { Description = "Photos on the contact sheet (0 for none).", DefaultValueFactory = _ => 16 };
        var command = new Command("explain", "Draw class activation maps: where in each photo the model saw a cat or a dog.");
        var model = new ModelOptions().AddTo(command, withCache: false);
        command.Add(target);
        command.Add(outPath);
        command.Add(json);
        command.Add(sheet);
        cli.SetAction(command, (parse, token) =>
        {
            model.ModelPath(parse);
            var sheetSize = parse.GetValue(sheet);
            if (sheetSize is < 0 or > 1024)
            {
                throw new ArgumentException($"--sheet must be between 0 and 1024; got {sheetSize}.");
            }

            var dir = OutputFile.PrepareFolder(parse.GetRequiredValue(outPath), [parse.GetRequiredValue(target)]);
            var images = Photos.At(parse.GetRequiredValue(target), token, dir);
            using var classifier = model.Load(parse, cli);
            using var explainer = classifier.CreateExplainer();
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var cells = new List<ContactSheetCell>();
            var explained = 0;
            var skipped = cli.WithProgress(progress => explainer.ExplainEach(images, e =>
            {
                // Photos from different sub-folders may share a name: number the repeats.
                var stem = Path.GetFileNameWithoutExtension(e.Image.Path);
                var name = stem + ".cam.png";
                for (var n = 2; !names.Add(name); n++)
                {
                    name = $"{stem}.{n}.cam.png";
                }

                var file = Path.Combine(dir, name);
                e.SaveOverlayPng(file);
                explained++;
                if (cells.Count < sheetSize)
                {
                    cells.Add(ContactSheetCell.Of(e));
                }

                if (parse.GetValue(json))
                {
                    cli.WriteJson(new
                    {
                        path = e.Image.Path,
                        dogProbability = e.DogProbability,
                        label = e.PredictedLabel.ToString().ToLowerInvariant(),
                        peak = new { x = e.Peak.X, y = e.Peak.Y },
                        width = e.Width,
                        height = e.Height,
                        overlay = file,
                        backbones = e.Heatmaps.Select(h => new { name = h.Backbone, contribution = h.Contribution }),
                    });
                }
            }, progress, token));

            cli.ReportSkipped(skipped);
            Cli.RequireSome(explained, images.Count, "explained");
            if (cells.Count > 0)
            {
                ContactSheet.SavePng(cells, Path.Combine(dir, "contact-sheet.png"));
            }

            cli.Error.WriteLine($"Explained {explained}, skipped {skipped.Count}, listed {images.Count}; overlays in {dir}.");
            return 0;
        });
        return command;
    }
}
