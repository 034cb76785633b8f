# made by scripts/attack-study; run with: gnuplot docs/results/attack-all.gp
set datafile separator ','
set terminal png size 1200,420
set output 'docs/results/attack-all.png'
set multiplot layout 1,3
set grid
set yrange [0.83:0.91]
set xrange [-0.02:0.32]
set xlabel 'fraction of malicious clients'
set ylabel 'honest clients: mean accuracy'
set key bottom left
set title 'mean (epsilon 4, s = 5)'
plot 'docs/results/attack-signflip-mean/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'signflip', 'docs/results/attack-scaled-mean/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'scaled', 'docs/results/attack-gaussian-mean/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'gaussian', 'docs/results/attack-labelflip-mean/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'labelflip'
set title 'multikrum8 (epsilon 4, s = 5)'
plot 'docs/results/attack-signflip-multikrum8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'signflip', 'docs/results/attack-scaled-multikrum8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'scaled', 'docs/results/attack-gaussian-multikrum8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'gaussian', 'docs/results/attack-labelflip-multikrum8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'labelflip'
set title 'mean8 (epsilon 4, s = 5)'
plot 'docs/results/attack-signflip-mean8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'signflip', 'docs/results/attack-scaled-mean8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'scaled', 'docs/results/attack-gaussian-mean8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'gaussian', 'docs/results/attack-labelflip-mean8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'labelflip'
unset multiplot
